"""Plain-NumPy specification of :mod:`theorytk.metastable._kernels`.

Same random streams (SplitMix64 per walker), the same choice of entry (the first with
``cum > u``, found here by bisection), same bookkeeping: the tests assert that the kernels
return exactly these numbers, and the benchmark reports
their speed ratio. :func:`hitting_times` and :func:`trajectories` are vectorised over
walkers; :func:`search_rollouts` is a readable loop.
"""
import numpy as np

from theorytk._splitmix import uniforms

def next_entries(indptr, cum, x, u):
    """For each walker, the first entry ``j`` of row ``x`` with ``cum[j] > u`` (binary search)."""
    lo = indptr[x].copy()
    hi = indptr[x + 1] - 1
    while np.any(lo < hi):
        mid = (lo + hi) >> 1
        right = cum[mid] > u
        active = lo < hi
        hi = np.where(active & right, mid, hi)
        lo = np.where(active & ~right, mid + 1, lo)
    return lo


def hitting_times(indptr, indices, cum, is_target, starts, seeds, max_steps):
    """First hitting time of the target per walker, ``-1`` if not within ``max_steps``."""
    x = np.array(starts, dtype=np.int64)
    states = np.array(seeds, dtype=np.uint64)
    times = np.zeros(x.size, dtype=np.int64)
    running = ~is_target[x]
    while np.any(running) and times.max(initial=0) < max_steps:
        idx = np.flatnonzero(running & (times < max_steps))
        if idx.size == 0:
            break
        sub = states[idx]
        u = uniforms(sub)
        states[idx] = sub
        x[idx] = indices[next_entries(indptr, cum, x[idx], u)]
        times[idx] += 1
        running[idx] = ~is_target[x[idx]]
    return np.where(is_target[x], times, -1)


def trajectories(indptr, indices, cum, starts, seeds, steps):
    """The CSR entry taken at every step, shape ``(walkers, steps)``."""
    x = np.array(starts, dtype=np.int64)
    states = np.array(seeds, dtype=np.uint64)
    out = np.empty((x.size, steps), dtype=np.int64)
    for t in range(steps):
        j = next_entries(indptr, cum, x, uniforms(states))
        out[:, t] = j
        x = indices[j]
    return out


def search_rollouts(indptr, indices, cum, starts, seeds, burn_in, rounds, max_steps):
    """Burn-in / first-exit rounds per rollout: returns ``(src, dst, cost)`` as the kernel does."""
    walkers = len(starts)
    src = np.full((walkers, rounds), -1, dtype=np.int64)
    dst = np.full((walkers, rounds), -1, dtype=np.int64)
    cost = np.zeros(walkers, dtype=np.int64)
    for w in range(walkers):
        state = np.array([seeds[w]], dtype=np.uint64)

        def step(x):
            return int(indices[next_entries(indptr, cum, np.array([x]), uniforms(state))[0]])

        x, t = int(starts[w]), 0
        for r in range(rounds):
            visited = {x}
            for _ in range(burn_in):
                if t >= max_steps:
                    break
                x = step(x)
                visited.add(x)
                t += 1
            found = False
            while t < max_steps:
                y = step(x)
                t += 1
                if y not in visited:
                    src[w, r], dst[w, r], found = x, y, True
                    x = y
                    break
                x = y
            if not found:
                break
        cost[w] = t
    return src, dst, cost
