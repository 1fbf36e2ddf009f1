"""Side-by-side timing helpers shared by the benchmarks.

Every benchmark times its candidates in the same process, one after the other, with the
same inputs, and reports medians of repeated runs, so that ratios are meaningful even on a
noisy machine. The machine's limit is measured in the same run too: a large float64
matrix product gives the attainable GFLOP/s.
"""
import statistics
import time

import numpy as np


def median_seconds(fn, repeats=5, min_time=0.2):
    """Median wall time of ``fn()`` over ``repeats`` timed batches (each at least ``min_time`` long).

    ``fn`` is called once first (warm-up: JIT compilation, caches).
    """
    fn()
    per_call = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        per_call.append(elapsed / calls)
    return statistics.median(per_call)


def alternating_medians(runs, rounds=5, min_time=0.1):
    """Median seconds per call of every callable in the dict ``runs``, timed in turn for ``rounds`` rounds.

    Each round times every peer once, one after the other (after one warm-up call each), so
    that a change of load during the run hits all peers alike; a peer that is None gets NaN.
    Returns ``(medians, spreads)``: per peer the median over the rounds and max/min of them.
    """
    live = {name: fn for name, fn in runs.items() if fn is not None}
    times = {name: [] for name in live}
    for _ in range(rounds):
        for name, fn in live.items():
            times[name].append(median_seconds(fn, repeats=1, min_time=min_time))
    medians = {name: float(np.median(times[name])) if name in live else float("nan") for name in runs}
    spreads = {name: max(t) / min(t) for name, t in times.items()}
    return medians, spreads


def matmul_gflops(size=2000, repeats=3):
    """GFLOP/s of an ``size`` x ``size`` float64 matrix product (2 size^3 flops) on this machine."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((size, size)), rng.standard_normal((size, size))
    out = np.empty_like(a)
    seconds = median_seconds(lambda: np.matmul(a, b, out=out), repeats=repeats)
    return 2.0 * size**3 / seconds / 1e9


def table(rows, columns):
    """Format ``rows`` (dicts) as a fixed-width text table with the given ``columns``."""
    text = [[str(c) for c in columns]]
    for row in rows:
        text.append([_fmt(row.get(c, "")) for c in columns])
    widths = [max(len(r[i]) for r in text) for i in range(len(columns))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in text)


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.3e}"
    return str(value)
