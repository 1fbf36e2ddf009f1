"""The one place that sets numba's compilation flags.

``FASTMATH`` allows reassociation (vectorised reductions), contraction into FMA and
reciprocal approximations of division by constants, but *not* ``nnan``/``ninf``: kernels
test for NaN to detect divergence, and those flags would let LLVM delete the test.

Caution: ``reassoc`` still lets LLVM fold ``x - x == 0`` to true, and numba 0.68 lowers
``math.isfinite(x)`` in a way that folds the same way, so write divergence checks as
``not abs(x) <= threshold`` (true for NaN and inf) or ``np.isnan(x)``. A reduction whose
bits must not depend on the calling context (e.g. on the driver that inlines it) belongs in
a function compiled with ``fastmath=False``.

Parallel kernels run on numba's OpenMP threading layer here. Its idle threads spin (GNU
OpenMP's default active wait policy), and when the cores are shared with other work that
spinning starves the threads doing the work: a DFIV network step on two threads took
56 ms against 18 ms on one thread on a loaded 2-core machine, and 15-17 ms on either with
``OMP_WAIT_POLICY=PASSIVE``. So this module sets ``OMP_WAIT_POLICY=PASSIVE`` unless the
user has set it (it takes effect if the OpenMP runtime has not been loaded yet, i.e. when
theorytk is imported before any other OpenMP user).

The price is a wake-up per parallel region: on this (Firecracker) VM an empty ``prange``
costs 18 us back to back and 87 us after some Python work, against 3 us with spinning
threads; a DFIV fit on an otherwise idle machine runs 4-8% faster with
``OMP_WAIT_POLICY=ACTIVE``. A bounded spin does not rescue the shared case: two DFIV fits
in two processes at once took 8.3 s each with ``ACTIVE`` and ``GOMP_SPINCOUNT=30000``
against 3.3 s with ``PASSIVE``. Users with a dedicated machine may set ``ACTIVE`` themselves.
(The 4-8% was measured while DFIV's inner loops still returned to Python every step; with
them in one kernel, alternating 10-epoch fits with ``ACTIVE`` and ``GOMP_SPINCOUNT=3000``
showed no difference beyond this machine's run-to-run spread.)
"""
import os

from numba import njit

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

FASTMATH = frozenset({"nsz", "arcp", "contract", "reassoc"})


def kernel(*args, parallel=False, **kwargs):
    """``numba.njit`` with the project's cache and fastmath settings."""
    options = dict(cache=True, fastmath=set(FASTMATH), parallel=parallel, error_model="numpy")
    options.update(kwargs)
    if args and callable(args[0]):
        return njit(**options)(args[0])
    return njit(*args, **options)
