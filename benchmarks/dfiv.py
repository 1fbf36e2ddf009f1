"""Speed of DFIV and Kernel IV: numba kernels vs the NumPy reference (and PyTorch CPU); KIV reuse vs dense solves.

Cases (issue 5), all in one run, same data and seeds:

* ``networks``: forward + backward of the demand design's instrument net (3-128-64-32) and
  covariate net (2-128-32-16, ReLU output) on 2500 rows, numba (on the default number of
  threads, and on one) against :mod:`theorytk.dfiv.reference`, with the attained GFLOP/s
  against a 2000^2 matrix product measured in the same run (default threaded BLAS).
* ``dfiv demand n=5000``: one DFIV fit with the authors' settings
  (:data:`theorytk.dfiv.DEMAND_SETTINGS`: 100 epochs of 20 stage-1, 20 covariate and 1
  stage-2 full-batch Adam steps, their widths) on ``demand_design(5000, 0.5)``, for
  ``backend="numba"`` and ``backend="numpy"`` (the reference twin) and, when PyTorch is
  installed, the PyTorch CPU twin of :mod:`benchmarks._dfiv_torch` in the same configuration
  (:data:`TWIN_SETTINGS`; float32 as the authors, and float64), each with its test MSE (the "equal MSE" condition). numba and the reference
  alternate :data:`REPEATS` times (medians reported, every run listed, and the reference/numba
  ratio of each adjacent pair). Target: numba >= 3x the reference and no slower than PyTorch
  at equal MSE.
* ``authors``: when PyTorch is installed and :data:`benchmarks._dfiv_torch.AUTHORS_ENV`
  (``THEORYTK_DFIV_AUTHORS``) names a checkout of ``liyuan9988/DeepFeatureIV``, the authors'
  own trainer (:func:`benchmarks._dfiv_torch.authors_fit_predict`: their ``DFIVTrainer``
  methods, float32, torch on the same number of threads as numba) against
  ``demand_dfiv().fit(stage1, stage2, validation, seed=s)`` on ``demand_design(5000, 0.5,
  seed=s)``, alternating per seed (same data, same seeds), with ``demand_dfiv`` variants
  (:data:`VARIANTS`) in the same alternation: per-seed seconds and test MSE, the
  authors/theorytk time ratio of each pair, and the mean +- SE and sd of the MSEs. Target
  (issue 17): mean MSE within the authors' interval, sd no wider, at most half their time.
  Without the checkout or torch the rows say so and are skipped.
  ``python -m benchmarks.dfiv --authors-only [--seeds K]`` runs this case alone.
* ``kiv``: :class:`theorytk.dfiv.KernelIV` over its 50 x 50 (lambda, xi) grid with
  eigendecomposition reuse, against the literal dense solves of Singh et al. for ONE
  (lambda, xi) pair (a grid search by dense solves costs 2500 of those).

``DFIV.fit`` limits BLAS to one thread (threadpoolctl) for both backends: its closed forms
are small products, and threaded OpenBLAS slowed a fit by one to two orders of magnitude
on a shared 2-core machine. PyTorch keeps its own default thread count.
"""
import argparse
import importlib.util
import sys
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks._timing import matmul_gflops, median_seconds, table
from theorytk.dfiv import DEMAND_SETTINGS, KernelIV, circle_iv, demand_design, demand_dfiv
from theorytk.dfiv import _kernels, reference
from theorytk.dfiv.features import MLP
from theorytk.dfiv.kernel_iv import naive_kiv_predict

NETWORKS = {"instrument 3-128-64-32": ((3, 128, 64, 32), "linear"),
            "covariate 2-128-32-16": ((2, 128, 32, 16), "relu")}
ROWS = 2500


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _step_seconds(net, ops, x, g):
    net.ops = ops

    def step():
        net.backward(net.forward(x), g)
    with threadpool_limits(limits=1, user_api="blas"):
        return median_seconds(step)


def network_rows():
    rows = []
    rng = np.random.default_rng(0)
    threads = numba.get_num_threads()
    for name, (sizes, output) in NETWORKS.items():
        net = MLP(sizes, rng, output=output)
        x, g = rng.standard_normal((ROWS, sizes[0])), rng.standard_normal((ROWS, sizes[-1]))
        products = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
        # multiply-adds x 2: forward and weight gradients on every layer, input gradients above the first
        flops = 2 * ROWS * (2 * sum(products) + sum(products[1:]))
        numba_s = _step_seconds(net, _kernels, x, g)
        numba.set_num_threads(1)
        try:
            one_s = _step_seconds(net, _kernels, x, g)
        finally:
            numba.set_num_threads(threads)
        numpy_s = _step_seconds(net, reference, x, g)
        rows.append({"network": name, f"numba ({threads} thr) ms": 1e3 * numba_s, "numba (1 thr) ms": 1e3 * one_s,
                     "numpy ms": 1e3 * numpy_s, "numpy/numba": numpy_s / numba_s,
                     "numba GFLOP/s": flops / numba_s / 1e9})
    return rows


def _torch_rows(data):
    if importlib.util.find_spec("torch") is None:
        return [{"implementation": "pytorch", "note": "not installed: skipped (pip install torch==2.13.0)"}]
    from benchmarks import _dfiv_torch

    rows = []
    for dtype in ("float32", "float64"):
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            seconds, mse = _dfiv_torch.fit_predict(data, seed=0, dtype=dtype, threads=threads, **TWIN_SETTINGS)
            rows.append({"implementation": f"pytorch {dtype} ({threads} thr)", "fit s": seconds, "test MSE": mse})
    return rows


TWIN_SETTINGS = dict(batch_norm=bool(DEMAND_SETTINGS["instrument_batch_norm"]),
                     standardise=DEMAND_SETTINGS["standardize_inputs"])
"""The PyTorch twin in :func:`theorytk.dfiv.demand_dfiv`'s configuration (BatchNorm, raw or standardised inputs)."""


REPEATS = 5
"""Interleaved fits per backend: one fit of each takes 10-45 s, and this machine's speed drifts
by 10-30% over minutes, so both the ratio of the medians and the ratio within each adjacent
(numba, reference) pair are reported, with the median of the pair ratios."""


def _fit_seconds(data, backend):
    seconds, model = _timed(lambda: demand_dfiv(backend=backend).fit(data.stage1, data.stage2, seed=0))
    return seconds, data.mse(model)


def dfiv_rows():
    data = demand_design(5000, 0.5, seed=0)
    demand_dfiv(epochs=1).fit(data.stage1, data.stage2, seed=0)   # JIT warm-up
    threads = numba.get_num_threads()
    runs = {"numba": [], "numpy": []}
    for _ in range(REPEATS):
        for backend, times in runs.items():
            times.append(_fit_seconds(data, backend))
    numba.set_num_threads(1)
    try:
        one_thread = _fit_seconds(data, "numba")
    finally:
        numba.set_num_threads(threads)
    rows = []
    for label, times in ((f"theorytk numba ({threads} thr)", runs["numba"]),
                         ("theorytk numpy reference (1 BLAS thr)", runs["numpy"])):
        seconds = [t for t, _ in times]
        rows.append({"implementation": label, "fit s": float(np.median(seconds)),
                     "runs s": " ".join(f"{t:.1f}" for t in seconds), "test MSE": times[0][1]})
    pairs = [ref[0] / fast[0] for fast, ref in zip(runs["numba"], runs["numpy"])]
    rows[1]["ratio per pair"] = " ".join(f"{r:.2f}" for r in pairs) + f" (median {np.median(pairs):.2f})"
    rows.insert(1, {"implementation": "theorytk numba (1 thr)", "fit s": one_thread[0], "runs s": f"{one_thread[0]:.1f}",
                    "test MSE": one_thread[1]})
    rows += _torch_rows(data)
    base = rows[0]["fit s"]
    for row in rows:
        if "fit s" in row:
            row["time / numba"] = row["fit s"] / base
    return rows


VARIANTS = {"theorytk demand_dfiv()": {},
            "theorytk demand_dfiv(no BatchNorm)": dict(instrument_batch_norm=(), covariate_batch_norm=())}
"""``demand_dfiv`` overrides timed in the authors' alternation: the authors' configuration, and without their BatchNorm."""


def _summary(label, runs):
    mses = np.array([m for _, m in runs])
    se = mses.std(ddof=1) / np.sqrt(mses.size) if mses.size > 1 else float("nan")
    return {"implementation": label, "seeds": mses.size, "median fit s": float(np.median([t for t, _ in runs])),
            "mean MSE": float(mses.mean()), "SE": float(se), "sd": float(mses.std(ddof=1)) if mses.size > 1 else float("nan"),
            "min": float(mses.min()), "max": float(mses.max())}


def authors_rows(seeds=range(10), n=5000, rho=0.5):
    """Per-seed rows and a summary of the authors' code against :data:`VARIANTS` (see the module docstring)."""
    from benchmarks import _dfiv_torch

    if importlib.util.find_spec("torch") is None:
        return [{"seed": "-", "implementation": "authors", "note": "torch not installed: skipped (pip install torch==2.13.0)"}], []
    if _dfiv_torch.authors_checkout() is None:
        return [{"seed": "-", "implementation": "authors",
                 "note": f"skipped: set {_dfiv_torch.AUTHORS_ENV} to a checkout of liyuan9988/DeepFeatureIV"}], []
    threads = numba.get_num_threads()
    warm = demand_design(n, rho, seed=0)
    for overrides in VARIANTS.values():   # JIT warm-up
        demand_dfiv(epochs=1, **overrides).fit(warm.stage1, warm.stage2, warm.validation, seed=0)
    runs = {"authors": [], **{label: [] for label in VARIANTS}}
    rows = []
    for seed in seeds:
        data = demand_design(n, rho, seed=seed)
        seconds, mse = _dfiv_torch.authors_fit_predict(data, seed=seed, threads=threads)
        runs["authors"].append((seconds, mse))
        rows.append({"seed": seed, "implementation": f"authors' DFIVTrainer (torch, {threads} thr)", "fit s": seconds,
                     "test MSE": mse})
        print(f"  seed {seed} authors: {seconds:.1f} s, MSE {mse:.1f}", flush=True)
        for label, overrides in VARIANTS.items():
            seconds, model = _timed(lambda: demand_dfiv(**overrides).fit(data.stage1, data.stage2, data.validation,
                                                                         seed=seed))
            runs[label].append((seconds, data.mse(model)))
            rows.append({"seed": seed, "implementation": label, "fit s": seconds, "test MSE": runs[label][-1][1],
                         "authors / this": runs["authors"][-1][0] / seconds, "best epoch": model.best_epoch})
            print(f"  seed {seed} {label}: {seconds:.1f} s, MSE {runs[label][-1][1]:.1f}, best epoch "
                  f"{model.best_epoch}", flush=True)
    return rows, [_summary("authors' DFIVTrainer", runs["authors"])] + [_summary(label, runs[label])
                                                                       for label in VARIANTS]


def kiv_rows():
    rows = []
    for n in (1000, 2000):
        data = circle_iv(n, "kink", seed=0)
        grid_s, model = _timed(lambda: KernelIV().fit(data.stage1, data.stage2))
        dense_s, _ = _timed(lambda: naive_kiv_predict(data.stage1, data.stage2, data.test_x, model.lam1_, model.lam2_,
                                                       model.sigma_x, model.sigma_z))
        rows.append({"case": f"kiv N={n}", "grid 50x50 with reuse s": grid_s, "one dense (lam, xi) s": dense_s,
                     "dense grid estimate s": dense_s * model.grid.size**2,
                     "speed-up over dense grid": dense_s * model.grid.size**2 / grid_s})
    return rows


def _print_authors(seeds):
    print(f"authors' code vs theorytk, demand_design(5000, 0.5, seed=s), s = 0..{seeds - 1}, alternating; "
          f"load average {open('/proc/loadavg').read().split()[:3]}")
    rows, summary = authors_rows(range(seeds))
    print(table(rows, ["seed", "implementation", "fit s", "authors / this", "test MSE", "best epoch", "note"]))
    if summary:
        print(table(summary, ["implementation", "seeds", "median fit s", "mean MSE", "SE", "sd", "min", "max"]))
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")


def main(argv=()):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dfiv")
    parser.add_argument("--authors-only", action="store_true", help="only the authors' code against demand_dfiv")
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the authors' comparison (default 10)")
    args = parser.parse_args(list(argv))
    if args.authors_only:
        _print_authors(args.seeds)
        return
    print(f"machine: {matmul_gflops():.1f} GFLOP/s (2000^2 float64 matmul, default BLAS threads)")
    net_rows = network_rows()
    print(table(net_rows, list(net_rows[0])))
    print(f"dfiv demand n=5000, rho=0.5, seed 0, settings {DEMAND_SETTINGS}")
    print(table(dfiv_rows(), ["implementation", "fit s", "runs s", "time / numba", "ratio per pair", "test MSE", "note"]))
    _print_authors(args.seeds)
    print(table(kiv_rows(), ["case", "grid 50x50 with reuse s", "one dense (lam, xi) s", "dense grid estimate s",
                             "speed-up over dense grid"]))


if __name__ == "__main__":
    main(sys.argv[1:])
