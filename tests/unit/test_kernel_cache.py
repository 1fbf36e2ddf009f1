"""Compiled kernels never go stale: an edit to an inlined helper reaches the next run.

numba's own cache is keyed by the jitted function's file only; ``theorytk._jit`` stamps each
kernel with the contents of the shared helpers and of its subpackage. The test copies the
package, runs a simulation (compiling into a fresh cache), edits the tanh helper's clip in
``_vecmath.py`` (20 -> 0.5, which changes every tanh of |x| > 0.5), and runs again in a new
process: the number must change (it did not before the locator, measured 27.99539154617679
both times), and a third run without edits must reuse the cache and give the second number.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "theorytk"
SCRIPT = ("import numpy as np\nfrom theorytk.mfld import MeanFieldProblem, simulate\n"
          "z = np.linspace(-2, 2, 16)\np = MeanFieldProblem(z, 0.8 * np.sin(1.5 * z), lam=0.01, lam_l2=0.05)\n"
          "import theorytk\nassert theorytk.__file__.startswith({root!r}), theorytk.__file__\n"
          "print(repr(float(simulate(p, 16, 20, 0.05, seed=0).particles.sum())))\n")


def _run(root, cache):
    env = dict(os.environ, THEORYTK_CACHE_DIR=str(cache), PYTHONPATH=str(root))
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(root=str(root))], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.slow
def test_an_edited_helper_reaches_the_next_run(tmp_path):
    root, cache = tmp_path / "copy", tmp_path / "cache"
    shutil.copytree(PACKAGE, root / "theorytk", ignore=shutil.ignore_patterns("__pycache__"))
    before = _run(root, cache)
    helper = root / "theorytk" / "_vecmath.py"
    text = helper.read_text()
    assert text.count("min(abs(x), 20.0)") == 1
    helper.write_text(text.replace("min(abs(x), 20.0)", "min(abs(x), 0.5)"))
    after = _run(root, cache)
    assert after != before
    assert _run(root, cache) == after
    assert any(cache.rglob("*.nbi"))


def test_clear_cache_removes_the_cache_dir(tmp_path, monkeypatch):
    from theorytk import _jit

    monkeypatch.setenv("THEORYTK_CACHE_DIR", str(tmp_path / "c"))
    (tmp_path / "c" / "theorytk").mkdir(parents=True)
    assert _jit.cache_dir() == tmp_path / "c"
    assert _jit.clear_cache() == tmp_path / "c" and not (tmp_path / "c").exists()


def test_numba_threads_restores_the_callers_count_even_after_an_error():
    import numba

    from theorytk._jit import numba_threads

    before = numba.get_num_threads()
    with numba_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    try:
        with numba_threads(1):
            raise KeyError("inside")
    except KeyError:
        pass
    assert numba.get_num_threads() == before
