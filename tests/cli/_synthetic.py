"""Small synthetic run folders (verdict.json, manifest.json, PNGs) built with the real claim classes."""
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from proofs.poc_mfld import PREDICTION_STATIONARY  # noqa: E402
from theorytk.claims import Agreement, Check, Rate, UpperBound, Verdicts  # noqa: E402
from theorytk.mutants import Discrimination, Mutant  # noqa: E402
from theorytk.stats import loglog_slope  # noqa: E402

NS = np.array([8.0, 16.0, 32.0, 64.0])
VBAR = 0.5


def claims(scale=1.0, rel_se=0.05):
    """Four claims, one per kind; ``scale`` multiplies the measured error (a wrong model: > 1 fails)."""
    error = scale * 0.6 * VBAR / NS
    fit = loglog_slope(NS, error * (1 + 0.01 * np.array([1, -1, 1, -1])), np.full(NS.size, 0.01) * error)
    return Verdicts([
        UpperBound.of(PREDICTION_STATIONARY, error, rel_se * error, at={"N": NS, "Vbar": VBAR},
                      name="E <= Vbar/N", labels=[f"N={n:g}" for n in NS]),
        Rate.of(PREDICTION_STATIONARY, "N", fit, tolerance=0.15, name="E vs N"),
        Agreement("step halving", a=1.0 * scale, se_a=0.01, b=1.0, se_b=0.01, k=3.0,
                  sanity="time discretisation is small"),
        Check("grid converged", holds=True, numbers={"residual": 1e-12, "threshold": 1e-10},
              sentence="Grid converged.", sanity="the reference is a precondition"),
    ])


def write_run(folder, scale=1.0, rel_se=0.05, mutants=True, plots=2, sha="abc1234"):
    """Write a run into ``folder``: its verdict (with a discrimination matrix), manifest and ``plots`` PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = claims(scale, rel_se)
    record = truth.to_dict()
    if mutants:
        declared = (Mutant("doubled_error", "the error doubled (a wrong constant)"),
                    Mutant("harmless", "a change no claim can see"))
        record["mutants"] = Discrimination.of(truth, {"doubled_error": claims(2.5 * scale, rel_se),
                                                      "harmless": claims(scale, rel_se)}, declared).to_dict()
    else:
        record["mutants"] = None
    (folder / "verdict.json").write_text(json.dumps(record, indent=2, allow_nan=False))
    manifest = {"validation": "synthetic", "argv": ["x"], "options": {"quick": True}, "seed": 0, "seconds": 1.5,
                "finished": "2026-12-02T14:00:00+0000", "python": "3.x", "versions": {"numpy": np.__version__},
                "machine": {"cpus": 2}, "git_sha": sha, "git_dirty": False}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for i in range(plots):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.loglog(NS, 0.3 / NS ** (i + 1))
        fig.savefig(folder / f"plot{i}.png", dpi=50)
        plt.close(fig)
    return folder
