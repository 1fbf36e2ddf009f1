"""Start-up weight (issue 17, part 9): what a fresh interpreter loads with the systems, and the benchmark's machinery.

No wall-clock assertion: the seconds are reported by ``python -m benchmarks startup``. What is
asserted is structural: importing every system does not load modules that cost seconds of
start-up and that the systems use only in rarely called functions or not at all.
"""
import subprocess
import sys

import numpy as np
from hypothesis import given, settings, strategies as st

from benchmarks import startup
from theorytk.metastable.search import _convolve

SYSTEMS = ("mfld", "metastable", "alignment", "dfiv", "icl", "contrastive", "memory", "implicit_bias", "reversal")
#: measured with ``python -X importtime`` on this 2-core machine under load: scipy.signal 1.8 s (it was imported
#: for one fftconvolve), scipy.stats 0.9 s (for a t quantile), scipy.optimize and scipy.interpolate 0.2-0.5 s (the
#: SVM oracle and the B-spline sieve import them on first use), the rest never used by the systems
HEAVY = ("scipy.signal", "scipy.stats", "scipy.optimize", "scipy.interpolate", "matplotlib", "sympy", "proofs", "torch",
         "jax")


def test_importing_every_system_loads_no_heavy_module():
    code = ("import sys\n" + "".join(f"import theorytk.{name}\n" for name in SYSTEMS) + "import theorytk.claims\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert loaded == "[]", loaded


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300), st.integers(0, 2**32 - 1))
def test_fft_convolution_equals_direct_convolution(n, m, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.random(n), rng.random(m)
    direct = np.convolve(a, b)
    np.testing.assert_allclose(_convolve(a, b), direct, rtol=0, atol=1e-12 * max(1.0, direct.max()))


def test_every_snippet_is_a_program_that_reports_two_durations():
    for name in [startup.FLOOR, *startup.SNIPPETS]:
        compile(startup.program(name), name, "exec")          # a syntax error in a snippet fails here
    (row,) = startup.main(names=["memory.ess"], repeats=1)   # the cheapest one end to end (no numba kernel)
    assert row["import s"] > 0 and row["first call s"] > 0 and row["total s"] == row["import s"] + row["first call s"]
