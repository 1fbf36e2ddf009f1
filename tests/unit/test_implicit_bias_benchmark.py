"""benchmarks.implicit_bias runs on a tiny case, its kernel and reference agree, and the ratio is reported."""
import math

from benchmarks import __main__ as bench_main
from benchmarks import implicit_bias


def test_implicit_bias_benchmark_runs_on_a_tiny_case(capsys):
    rows = implicit_bias.main({"tiny": dict(L=3, steps=20)}, repeats=1)
    assert len(rows) == 1
    for key in ("kernel steps/s", "numpy steps/s", "kernel/numpy"):
        assert math.isfinite(rows[0][key]) and rows[0][key] > 0, key
    assert "tiny" in capsys.readouterr().out
    assert "implicit_bias" in bench_main.available()
