"""benchmarks.icl runs on a tiny case and reports finite, positive rates (speed itself is not asserted)."""
import math

from benchmarks import icl


def test_icl_benchmark_runs_on_a_tiny_case(capsys):
    rows = icl.main({"tiny": dict(d=2, n=4, k=2, batch=8, steps=2, rollout_prompts=16),
                     "tiny looped": dict(d=2, n=4, k=2, batch=8, steps=2, rollout_prompts=16, mode="looped")})
    for row in rows:
        for key in ("kernel steps/s", "numpy steps/s", "kernel/numpy", "kernel rollout prompts/s",
                    "numpy rollout prompts/s"):
            assert math.isfinite(row[key]) and row[key] > 0, key
    assert "kernel/numpy" in capsys.readouterr().out
