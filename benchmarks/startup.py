"""Start-up cost of each system's main entry point: a fresh interpreter's import plus first call.

Issue 17, part 9: a user who runs a script pays, in every new process, the import of theorytk
and the loading of its cached compiled kernels before the first result. For each system, a
tiny call of its main entry point (``SNIPPETS``) runs once in a fresh interpreter to fill
numba's cache, then ``repeats`` more times, each in its own fresh interpreter; reported are
the medians of the seconds spent on the import and on the first (cached) call, measured
inside the process (the interpreter's own start, ~20 ms, is not counted), and the machine's
load average, since on 2 shared cores these figures roughly double under load. The first row
is the floor no numba program can go under: numba's import and the first call of a trivial
cached kernel, measured the same way in the same run. Target: the sum under 1 s on a quiet
machine.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._timing import table

#: system -> (import statement, the first call: a tiny problem of the system's main entry point)
SNIPPETS = {
    "mfld.simulate": ("from theorytk.mfld import MeanFieldProblem, simulate",
                      "simulate(MeanFieldProblem(np.linspace(-1, 1, 8), np.zeros(8), lam=0.1, lam_l2=0.1), 16, 10, 0.01)"),
    "metastable.hitting_times": ("from theorytk.metastable import cot_chain, hitting_times, simulate_hitting",
                                 "c = cot_chain(3, 8, 1e-2); hitting_times(c); simulate_hitting(c, walkers=64, seed=0)"),
    "alignment.DoobSampler": ("from theorytk.alignment import DoobSampler, GaussianMixture, LinearPotential",
                              "DoobSampler(GaussianMixture([0.5, 0.5], [[-2.0], [2.0]], [[[0.25]], [[0.25]]]), "
                              "LinearPotential([1.0])).sample(16, 4, 1.0, seed=0)"),
    "dfiv.demand_dfiv": ("from theorytk.dfiv import demand_design, demand_dfiv",
                         "d = demand_design(200, rho=0.5, seed=0); demand_dfiv(epochs=1).fit(d.stage1, d.stage2, seed=0)"),
    "icl.train": ("from theorytk.icl import LinearSelfAttention, train",
                  "train(LinearSelfAttention(d=3), 6, 8, 2, 0, cot_steps=2, eta=0.3)"),
    "contrastive.minimise": ("from theorytk.contrastive import all_batches, minimise",
                             "minimise(4, 3, all_batches(4, 2), restarts=2, seed=0)"),
    "memory.ess": ("from theorytk.memory import diagonal_ssm, ess", "ess(diagonal_ssm(4, 32, seed=0))"),
    "implicit_bias.train": ("from theorytk.implicit_bias import OneLayerTransformer, even_pairs, train",
                            "train(OneLayerTransformer(length=3), even_pairs(max_length=3), eta=1.0, steps=10, "
                            "record=[10], seed=0)"),
    "reversal.train_bilinear": ("from theorytk.reversal import BilinearModel, entity_pairs, train_bilinear",
                                "train_bilinear(BilinearModel(entity_pairs(8, 0.5, 'one_hot', seed=0)), steps=10)"),
}


#: the floor: numba's own import and first call of one cached trivial kernel (its cache in a temporary folder)
FLOOR = "numba floor (trivial cached njit)"
_FLOOR_MODULE = "import numba\n\n\n@numba.njit(cache=True)\ndef one_more(x):\n    return x + 1.0\n"


def program(name):
    """The Python source that imports and calls ``SNIPPETS[name]`` and prints the two durations in seconds."""
    imports, call = SNIPPETS[name] if name != FLOOR else ("from startup_floor import one_more", "one_more(1.0)")
    return ("import time\nt0 = time.perf_counter()\nimport numpy as np\n" + imports + "\nt1 = time.perf_counter()\n"
            + call + "\nprint(t1 - t0, time.perf_counter() - t1)\n")


def fresh_process_seconds(name, repeats=3):
    """Median (import, first call) seconds of ``SNIPPETS[name]`` over ``repeats`` fresh interpreters, cache filled."""
    code = program(name)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "startup_floor.py").write_text(_FLOOR_MODULE)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))}
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)   # fills numba's cache
        runs = [subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                               env=env).stdout.split() for _ in range(repeats)]
    imports, calls = np.array(runs, dtype=float).T
    return float(np.median(imports)), float(np.median(calls))


def main(names=None, repeats=3):
    """Print and return one row per entry point of ``names`` (default: every one of ``SNIPPETS``)."""
    rows = []
    for name in [FLOOR, *SNIPPETS] if names is None else names:
        imported, called = fresh_process_seconds(name, repeats)
        rows.append({"entry point": name, "import s": imported, "first call s": called, "total s": imported + called,
                     "under 1 s": "yes" if imported + called < 1.0 else "NO"})
    print(f"fresh-process start-up, median of {repeats} (load average {os.getloadavg()[0]:.1f} over 1 min):")
    print(table(rows, ("entry point", "import s", "first call s", "total s", "under 1 s")))
    return rows


if __name__ == "__main__":
    main()
