"""The one place that sets numba's compilation flags and where compiled kernels are cached.

Compiled code never goes stale
------------------------------
numba's own on-disk cache is keyed by the source file of the jitted function (its mtime
and size), not by the files of the helpers it inlines (``_vecmath``, ``_gemm``): after an
edit to a helper, numba would load the old machine code without a warning. Kernels of
theorytk are cached by :class:`SourceTreeLocator` instead: in ``cache_dir()``
(``$THEORYTK_CACHE_DIR``, else ``$XDG_CACHE_HOME/theorytk/numba``, else
``~/.cache/theorytk/numba``), stamped with a hash of the *contents* of every file that can
reach the kernel's machine code: the shared helpers (``theorytk/_*.py``) and every module
of the kernel's own subpackage, and kept in a folder named by that hash. Any edit to one of
them sends the next call to a new folder, so it recompiles; two processes running different
versions of the code never share an index or machine code. Old folders stay until
:func:`clear_cache` removes the cache.

``FASTMATH`` allows reassociation (vectorised reductions), contraction into FMA and
reciprocal approximations of division by constants, but *not* ``nnan``/``ninf``: kernels
test for NaN to detect divergence, and those flags would let LLVM delete the test.

Caution: ``reassoc`` still lets LLVM fold ``x - x == 0`` to true, and numba 0.68 lowers
``math.isfinite(x)`` in a way that folds the same way, so write divergence checks as
``not abs(x) <= threshold`` (true for NaN and inf) or ``np.isnan(x)``. A reduction whose
bits must not depend on the calling context (e.g. on the driver that inlines it) belongs in
a function compiled with ``fastmath=False``.

Parallel kernels run on numba's OpenMP threading layer. Its idle threads spin by default
(GNU OpenMP's active wait policy), and when the cores are shared with other work that
spinning starves the threads doing the work. So this module sets
``OMP_WAIT_POLICY=PASSIVE`` unless the user has set it (it takes effect if the OpenMP
runtime has not been loaded yet, i.e. when theorytk is imported before any other OpenMP
user). The price is a wake-up per parallel region; users with a dedicated machine may set
``ACTIVE`` themselves. The measurements behind this choice are in
``benchmarks/MEASUREMENTS.md``.
"""
import hashlib
import os
import shutil
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numba
from numba import njit
from numba.core import caching

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PACKAGE = Path(__file__).resolve().parent


def cache_dir():
    """Where theorytk's compiled kernels are cached (see the module docstring)."""
    if os.environ.get("THEORYTK_CACHE_DIR"):
        return Path(os.environ["THEORYTK_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "theorytk" / "numba"


def clear_cache():
    """Remove every cached kernel of theorytk (``cache_dir()``); return the path removed."""
    path = cache_dir()
    shutil.rmtree(path, ignore_errors=True)
    return path


@lru_cache(maxsize=None)
def source_stamp(folder):
    """SHA-256 of the contents of the shared helpers and of every module under ``folder``.

    ``folder`` is a kernel's subpackage (or the package itself for the shared helpers).
    """
    folder = Path(folder)
    files = sorted(PACKAGE.glob("_*.py")) + sorted(folder.rglob("*.py") if folder != PACKAGE else [])
    digest = hashlib.sha256()
    for path in dict.fromkeys(files):
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class SourceTreeLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """numba cache locator for theorytk kernels: stamped by the sources they can inline.

    Only functions defined under the theorytk package use it; any other function falls
    through to numba's own locators.
    """

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._folder = Path(py_file).resolve().parent
        # one folder per source version: processes running different versions of the code (an edit while
        # another run is going) never read each other's index or machine code
        relative = self._folder.relative_to(PACKAGE.parent)
        self._cache_path = str(cache_dir() / relative / source_stamp(self._folder)[:16])

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        return source_stamp(self._folder)

    @classmethod
    def from_function(cls, py_func, py_file):
        if not Path(py_file).resolve().is_relative_to(PACKAGE):
            return None
        return super().from_function(py_func, py_file)


if SourceTreeLocator not in caching.CacheImpl._locator_classes:
    caching.CacheImpl._locator_classes.insert(0, SourceTreeLocator)

FASTMATH = frozenset({"nsz", "arcp", "contract", "reassoc"})


def kernel(*args, parallel=False, **kwargs):
    """``numba.njit`` with the project's cache and fastmath settings.

    A ``parallel=True`` kernel should hold only ``prange`` loops and plain scalar loops: numba
    turns every array expression in it, or in a helper inlined into it (``a[:] = 0``,
    ``a.sum()``, ``s[0] += g``, ``np.zeros``), into a parallel region of its own, a wake-up
    of the sleeping threads each time it runs. Serial array work goes into a serial kernel
    that the parallel one calls. ``tests/unit/test_parallel_regions.py`` checks this.
    """
    options = dict(cache=True, fastmath=set(FASTMATH), parallel=parallel, error_model="numpy")
    options.update(kwargs)
    if args and callable(args[0]):
        return njit(**options)(args[0])
    return njit(*args, **options)


@contextmanager
def numba_threads(threads):
    """Run the block with numba's thread count set to ``threads``, then restore the caller's count.

    numba's thread count is thread-local; parallel kernels read it when they start, so a
    driver that limits the threads of one kernel call (e.g. to its number of walkers) wraps
    that call in this context manager.
    """
    caller = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(caller)
