"""A tiny validation with one planted wrong model, for tests/unit/test_harness_mutants.py."""
import numpy as np
from theorytk.claims import Agreement, Verdicts
from theorytk.mutants import Mutant
from validations import _harness

NAME = "vmini"
MUTANTS = (Mutant("biased", "adds 1 to every draw"),)

def run_config(config, seed):
    x = np.random.default_rng(seed).standard_normal(50) + (1.0 if config.get("mutant") == "biased" else 0.0)
    return {"mean": float(x.mean())}

def experiment(ctx):
    res = ctx.sweep(run_config, [{"a": 1}], 8)
    m = np.array([r.scalars["mean"] for r in res])
    return Verdicts([Agreement("mean is 0", m.mean(), m.std(ddof=1) / np.sqrt(m.size), 0.0)])

main = _harness.entry_point(NAME, "mini", experiment, MUTANTS)
if __name__ == "__main__":
    raise SystemExit(main())
