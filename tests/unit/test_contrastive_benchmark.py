"""benchmarks.contrastive runs on a tiny case and reports every column (JAX may be absent: NaN)."""
import math

from benchmarks import __main__ as bench_main
from benchmarks import contrastive


def test_contrastive_benchmark_runs_on_a_tiny_case(capsys):
    rows = contrastive.main({"tiny": dict(N=4, B=2, d=3, restarts=2, steps=3)})
    assert len(rows) == 1
    row = rows[0]
    for key in ("kernel restarts/s", "minimise restarts/s", "numpy restarts/s", "kernel/numpy"):
        assert math.isfinite(row[key]) and row[key] > 0, key
    assert "jax restarts/s" in row
    assert "tiny" in capsys.readouterr().out
    assert "contrastive" in bench_main.available()
