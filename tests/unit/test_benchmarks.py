"""The benchmark scripts run (on tiny cases) and report sane ratios; speed itself is never asserted."""
import math

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import gemm, mfld


def test_mfld_benchmark_runs_on_a_tiny_case(capsys):
    rows = mfld.main({"tiny": dict(replicas=2, N=8, n=5, d=2, steps=3)}, start_time=False, matmul_size=200,
                     curve=(8, 16))
    assert len(rows) == 1
    row = rows[0]
    for key in ("kernel steps/s", "simulate steps/s", "numpy steps/s", "kernel/numpy", "kernel GFLOP/s"):
        assert math.isfinite(row[key]) and row[key] > 0, key
    out = capsys.readouterr().out
    # both kinds of comparison are labelled, and the cost curve reports its slope
    assert "same pre-drawn noise" in out and "each peer drawing its own noise" in out
    assert "log-log slope" in out


def test_gemm_benchmark_compares_tiles_and_blas_on_the_same_products():
    rows = gemm.main(scale=0.02, repeats=1)
    assert len(rows) == 7
    for row in rows:
        # the two columns computed the same product (summation order only), so the timing compares like with like
        assert row["max |diff|"] < 1e-10, row
        assert math.isfinite(row["tiles/BLAS speed"]) and row["tiles/BLAS speed"] > 0


def test_benchmark_cli_rejects_unknown_names():
    with pytest.raises(SystemExit) as info:
        bench_main.main(["no_such_benchmark"])
    assert info.value.code == 2
    assert "mfld" in bench_main.available()
