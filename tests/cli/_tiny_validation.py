"""A tiny validation for tests/cli/test_harness_runs.py: its settings and failures are switchable."""
import numpy as np

from theorytk.claims import Agreement, Verdicts
from theorytk.errors import SolverFailure
from validations import _harness

NAME = "vtiny"
OFFSET = 0.0          # a setting: shifts every draw (a resume must notice an edit)
FAIL = ""             # "", "value" (ValueError in a run) or "solver" (SolverFailure in a run)


class TinyDiverged(SolverFailure):
    """A solver failure of the tiny validation."""


def run_config(config, seed):
    if FAIL == "value":
        raise ValueError("singular matrix in the tiny solver")
    if FAIL == "solver":
        raise TinyDiverged("tiny solver diverged at step 3 (hint: smaller step)")
    x = np.random.default_rng(seed).standard_normal(20) + OFFSET
    return {"mean": float(x.mean())}


def experiment(ctx):
    res = ctx.sweep(run_config, [{"a": 1}, {"a": 2}], 4)
    m = np.array([r.scalars["mean"] for r in res])
    return Verdicts([Agreement("mean is 0", m.mean(), m.std(ddof=1) / np.sqrt(m.size), 0.0, k=6.0)])


main = _harness.entry_point(NAME, "tiny", experiment)
