"""Speed of theorytk.metastable: exact hitting times, and Monte Carlo walkers.

Exact (issue 3; cost curves, issue 17 part 8): ``cot_chain(K, M, eps=1e-3)`` for about
10^4 to 10^6 states (``SIZES``; K = max(3, round(n / M)), so a few sizes are rounded) and
cluster sizes M = 64 to 4096 (``CLUSTER_SIZES``). Per chain: seconds of ``hitting_times``
(validation, reachability, the CSR slicing and the solve all included) with the solver
``HittingSolver`` picks ("deflated gmres" for every chain here but those with fewer than
8192 free states) and its GMRES steps; seconds of the path before part 8, one SuperLU
factorisation of the whole system (``HittingSolver`` with its iterative solver switched
off), run only where ``states * M <= LU_CAP`` (its fill-in is about ``states * M``
entries: 32 x 3200 states took 30.8 s), else printed as "capped"; for M = 64 and
n <= 10^4 also a dense ``numpy.linalg.solve`` and ``deeptime.markov.tools.analysis.mfpt``
(dense input) when deeptime is installed; and the largest relative difference between the
answers. Below the table: the log-log slope of seconds against states for each M (one run,
OLS with its 95% interval, :func:`theorytk.stats.loglog_slope`), the slope against M at
10^5 states, and the process's peak resident memory.

Monte Carlo: walker-steps per second of ``simulate_hitting`` (the numba kernel, on 1 and on
all numba threads) and of the vectorised NumPy reference
(:func:`theorytk.metastable.reference.hitting_times`) on the same chain (K = 4, M = 16,
eps = 1e-2), and their ratio. All timings side by side in one run.
"""
import resource
import time

import numba
import numpy as np

from benchmarks._timing import median_seconds, table
from theorytk.metastable import HittingSolver, cot_chain, hitting_times, reference, simulate_hitting
from theorytk.random import stream_seeds
from theorytk.stats import loglog_slope

SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
CLUSTER_SIZES = (64, 256, 1024, 4096)
LU_CAP = 1.1e8  # run the whole-system LU only where states * M (about its fill-in) is at most this
PEER_CLUSTER = 64  # the dense solve and deeptime run on this cluster size only (as before part 8)
DENSE_LIMIT = 10_000


def _once(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _timed(fn):
    """Seconds of ``fn()`` (the median of 3 runs when one takes under a second) and its result."""
    seconds, out = _once(fn)
    if seconds < 1.0:
        seconds = median_seconds(fn, repeats=3, min_time=0.0)
    return seconds, out


def _dense_solve(chain):
    P = chain.P.toarray()
    free = np.ones(chain.n_states, dtype=bool)
    free[chain.goal] = False
    t = np.zeros(chain.n_states)
    t[free] = np.linalg.solve(np.eye(free.sum()) - P[np.ix_(free, free)], np.ones(free.sum()))
    return t


def _deeptime(chain):
    try:
        from deeptime.markov.tools.analysis import mfpt
    except ImportError:
        return None
    return lambda: mfpt(chain.P.toarray(), chain.goal)


def _relative(theirs, ours):
    return float(np.max(np.abs(theirs - ours)[ours > 0] / ours[ours > 0]))


def exact_rows(sizes=SIZES, cluster_sizes=CLUSTER_SIZES):
    nan = float("nan")
    rows = []
    for M in cluster_sizes:
        for n in sizes:
            chain = cot_chain(max(3, round(n / M)), M, 1e-3, seed=0)
            solver = HittingSolver(chain, chain.goal)
            ours_s, ours = _timed(lambda: hitting_times(chain).times)
            row = {"states": chain.n_states, "M": M, "K": chain.n_clusters, "method": solver.method,
                   "GMRES steps": 0,
                   "s": ours_s, "LU s": "capped", "LU/ours": nan, "dense s": nan, "deeptime s": nan,
                   "deeptime/ours": nan, "max rel diff": nan}
            solver.mean()
            if solver._iterative is not None:  # its steps on this chain
                row["GMRES steps"] = solver._iterative.iterations
            diffs = []
            if chain.n_states * M <= LU_CAP:
                # HittingSolver as before issue 17 part 8: one SuperLU factorisation, never GMRES
                lu_s, lu = _timed(lambda: HittingSolver(chain, chain.goal, method="sparse lu").mean())
                row.update({"LU s": lu_s, "LU/ours": lu_s / ours_s})
                diffs.append(_relative(lu, ours))
            if M == PEER_CLUSTER and chain.n_states <= DENSE_LIMIT:
                dense_s, dense = _once(lambda: _dense_solve(chain))
                row["dense s"] = dense_s
                diffs.append(_relative(dense, ours))
                peer = _deeptime(chain)
                if peer is not None:
                    peer_s, theirs = _once(peer)
                    row.update({"deeptime s": peer_s, "deeptime/ours": peer_s / ours_s})
                    diffs.append(_relative(theirs, ours))
            if diffs:
                row["max rel diff"] = max(diffs)
            rows.append(row)
            print(table([row], list(row)), flush=True)
    return rows


def _slope(x, y):
    fit = loglog_slope(x, y)
    return f"{fit.slope:.2f} [{fit.lo:.2f}, {fit.hi:.2f}]"


def slope_lines(rows):
    """Log-log slopes of seconds against states per cluster size, and against M at 10^5 states."""
    lines = []
    for M in sorted({r["M"] for r in rows}):
        mine = [r for r in rows if r["M"] == M]
        text = f"  M = {M}: ours {_slope([r['states'] for r in mine], [r['s'] for r in mine])}"
        lu = [r for r in mine if not isinstance(r["LU s"], str)]
        if len(lu) >= 3:
            text += f"; whole-system LU {_slope([r['states'] for r in lu], [r['LU s'] for r in lu])}"
        lines.append(text)
    mid = [r for r in rows if abs(np.log10(r["states"]) - 5) < 0.15]
    if len({r["M"] for r in mid}) >= 3:
        text = f"  against M at ~1e5 states: ours {_slope([r['M'] for r in mid], [r['s'] for r in mid])}"
        lu = [r for r in mid if not isinstance(r["LU s"], str)]
        if len(lu) >= 3:
            text += f"; whole-system LU {_slope([r['M'] for r in lu], [r['LU s'] for r in lu])}"
        lines.append(text)
    return lines


def monte_carlo_rows(walkers=20_000, reference_walkers=2_000):
    chain = cot_chain(4, 16, 1e-2, seed=0)
    indptr, indices, cum = chain.table
    target = np.zeros(chain.n_states, dtype=bool)
    target[chain.goal] = True
    rows = []
    speeds = {}
    for threads in sorted({1, numba.get_num_threads()}):
        steps = []

        def run(threads=threads):
            steps.append(simulate_hitting(chain, walkers=walkers, seed=len(steps), threads=threads).steps)

        seconds = median_seconds(run, repeats=3, min_time=0.0)
        speeds[f"kernel, {threads} thread(s)"] = float(np.median(steps[1:])) / seconds
    starts = np.full(reference_walkers, chain.start, dtype=np.int64)
    seeds = stream_seeds(0, reference_walkers)
    ref_s, ref_times = _once(lambda: reference.hitting_times(indptr, indices, cum, target, starts, seeds, 2**62))
    speeds["numpy reference"] = float(ref_times.sum()) / ref_s
    base = speeds["numpy reference"]
    for name, speed in speeds.items():
        rows.append({"walkers": name, "walker-steps/s": speed, "x reference": speed / base})
    return rows


def main():
    print(f"exact hitting times of the goal cluster (cot_chain(K, M, eps=1e-3); whole-system LU capped at "
          f"states * M <= {LU_CAP:.2g}); one row per chain as it finishes:")
    exact = exact_rows()
    print(table(exact, list(exact[0])))
    print("log-log slope of seconds against states (95% interval):")
    print("\n".join(slope_lines(exact)))
    print(f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")
    mc = monte_carlo_rows()
    print(f"Monte Carlo hitting times (K = 4, M = 16, eps = 1e-2; {numba.get_num_threads()} numba threads available):")
    print(table(mc, list(mc[0])))
    return exact, mc


if __name__ == "__main__":
    main()
