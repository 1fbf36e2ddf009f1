"""benchmarks.memory runs on a tiny case, its three ESS profiles agree, and every column is reported."""
import math

from benchmarks import __main__ as bench_main
from benchmarks import memory


def test_memory_benchmark_runs_on_a_tiny_case(capsys):
    rows = memory.main({"tiny": dict(L=24, state=3)}, repeats=2)
    assert len(rows) == 1
    row = rows[0]
    assert row["splits"] == 23 and row["max ESS"] == 3
    for key in ("ess s", "matrix_rank loop s", "full SVD loop s", "rank loop/ess", "svd loop/ess"):
        assert math.isfinite(row[key]) and row[key] > 0, key
    assert "tiny" in capsys.readouterr().out
    assert "memory" in bench_main.available()
