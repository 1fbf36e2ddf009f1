"""Numba kernels for walkers on a Markov chain stored as a CSR cumulative table.

The chain is ``(indptr, indices, cum)``: the transitions out of state ``x`` are the entries
``j`` in ``indptr[x]:indptr[x+1]``, to state ``indices[j]``, and ``cum[j]`` is the cumulative
probability of the row up to and including entry ``j`` (the last entry of every row is
exactly 1.0). One step from ``x`` with a uniform ``u`` in [0, 1) takes the first entry ``j``
of the row with ``cum[j] > u`` (:func:`_next_entry`); entries of zero probability are never
taken.

Randomness: every walker has its own SplitMix64 stream (:mod:`theorytk._splitmix` [1]_),
started from its own 64-bit seed (:func:`theorytk.random.stream_seeds`), and the uniform of a
step is the top 53 bits of the next output times 2^-53. A walker's path therefore depends only on its seed, never
on the thread that runs it: the kernels give the same numbers on 1 or 2 threads, and the
plain-NumPy twins in :mod:`theorytk.metastable.reference` reproduce them exactly.

References
----------
.. [1] G. L. Steele, D. Lea, C. H. Flood, "Fast splittable pseudorandom number generators",
   OOPSLA 2014 (SplitMix64).
"""
import numpy as np
from numba import prange

from theorytk._jit import kernel
from theorytk._splitmix import uniform as _uniform

SHORT_ROW = 8  # rows with at most this many entries are scanned, longer ones bisected


@kernel(inline="always")
def _next_entry(indptr, cum, x, u):
    """First entry ``j`` of row ``x`` with ``cum[j] > u``.

    ``cum`` is non-decreasing along the row, so the entries with ``cum <= u`` form a prefix
    and ``j`` is its length: short rows count it without branches (no mispredicted jumps),
    long rows use a binary search. Both give the same ``j``.
    """
    lo = indptr[x]
    hi = indptr[x + 1] - 1
    if hi - lo <= SHORT_ROW:
        count = 0
        for i in range(lo, hi):
            count += cum[i] <= u
        return lo + count
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@kernel(parallel=True)
def hitting_times(indptr, indices, cum, is_target, starts, seeds, max_steps, out):
    """First time each walker is in a target state; ``-1`` when not reached within ``max_steps``.

    ``starts`` (W,) int64, ``seeds`` (W,) uint64, ``is_target`` (n,) bool; ``out`` (W,) int64.
    A walker that starts on a target has time 0.
    """
    for w in prange(starts.shape[0]):
        state = seeds[w]
        x = starts[w]
        t = 0
        while not is_target[x] and t < max_steps:
            state, u = _uniform(state)
            x = indices[_next_entry(indptr, cum, x, u)]
            t += 1
        out[w] = t if is_target[x] else -1


@kernel(parallel=True)
def trajectories(indptr, indices, cum, starts, seeds, out):
    """The CSR entry taken at every step: ``out[w, t]`` is the entry of step ``t`` of walker ``w``.

    The state after step ``t`` is ``indices[out[w, t]]``; walkers run ``out.shape[1]`` steps.
    """
    steps = out.shape[1]
    for w in prange(starts.shape[0]):
        state = seeds[w]
        x = starts[w]
        for t in range(steps):
            state, u = _uniform(state)
            j = _next_entry(indptr, cum, x, u)
            out[w, t] = j
            x = indices[j]


@kernel(parallel=True)
def search_rollouts(indptr, indices, cum, starts, seeds, burn_in, rounds, max_steps, out_src, out_dst, out_cost):
    """Rounds of burn-in then first exit from the visited set, for independent rollouts.

    Round ``r`` of rollout ``w``: walk ``burn_in`` steps, marking every visited state (the
    estimated cluster C^); then walk until a step ``x -> y`` with ``y`` not in C^, record it in
    ``out_src[w, r]``, ``out_dst[w, r]`` and continue the next round from ``y``. A rollout
    stops when it has taken ``max_steps`` steps; rounds not completed keep ``-1``.
    ``out_cost[w]`` is the number of steps the rollout took.
    """
    n = indptr.shape[0] - 1
    for w in prange(starts.shape[0]):
        mark = np.zeros(n, dtype=np.int64)
        state = seeds[w]
        x = starts[w]
        t = 0
        for r in range(rounds):
            out_src[w, r] = -1
            out_dst[w, r] = -1
        for r in range(rounds):
            stamp = r + 1
            mark[x] = stamp
            for _ in range(burn_in):
                if t >= max_steps:
                    break
                state, u = _uniform(state)
                x = indices[_next_entry(indptr, cum, x, u)]
                mark[x] = stamp
                t += 1
            found = False
            while t < max_steps:
                state, u = _uniform(state)
                y = indices[_next_entry(indptr, cum, x, u)]
                t += 1
                if mark[y] != stamp:
                    out_src[w, r] = x
                    out_dst[w, r] = y
                    x = y
                    found = True
                    break
                x = y
            if not found:
                break
        out_cost[w] = t
