"""Figures of :mod:`validations.metastable_cot` (matplotlib Figure objects, no global state)."""
import numpy as np
from matplotlib.figure import Figure
from scipy import stats as scipy_stats

from theorytk.plotting import plot_bound_vs_empirical
from validations._figures import save


def _figure(width=6.0, height=4.2):
    return Figure(figsize=(width, height), layout="constrained")


def _finish(ax, path, xlabel, ylabel, title=None):
    """Label the axes, add the legend and save the axes' figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    save(ax.figure, path)


def _of(results, family, **match):
    return [r for r in results if r.config["family"] == family
            and all(r.config.get(k) == v for k, v in match.items())]


def scaling(path, p, results):
    """eps E[tau] vs eps for every (K, M), one exit, with the leading term eps T0 dashed."""
    fig = _figure(5.5 * len(p["exact_sizes"]), 4.2)
    for i, (K, M) in enumerate(p["exact_sizes"]):
        rows = sorted(_of(results, "exact", K=K, M=M, exits=1), key=lambda r: r.config["eps"])
        eps = np.array([r.config["eps"] for r in rows])
        ax = fig.add_subplot(1, len(p["exact_sizes"]), i + 1)
        leading = eps * np.array([r.scalars["T0"] for r in rows])
        plot_bound_vs_empirical(eps, median=eps * np.array([r.scalars["E"] for r in rows]),
                                bounds={"eps T0 = (K-1) M / q (leading term)": leading},
                                ax=ax, xlabel="eps", ylabel="eps E[tau] (exact)", title=f"K={K}, M={M}")
    save(fig, path)


def histogram(path, results):
    """Monte Carlo hitting times at eps = 1e-2 against the Erlang(K-1) law with the exact mean."""
    run = [r for r in _of(results, "mc") if r.config["eps"] == 1e-2][0]
    times = run.arrays["times"]
    k = run.config["K"] - 1
    fig = _figure()
    ax = fig.add_subplot()
    ax.hist(times, bins=60, density=True, alpha=0.5, label=f"Monte Carlo ({times.size} walkers)")
    grid = np.linspace(0, times.max(), 400)
    ax.plot(grid, scipy_stats.gamma.pdf(grid, a=k, scale=run.scalars["exact"] / k), "k--",
            label=f"Erlang({k}) with the exact mean {run.scalars['exact']:.5g}")
    _finish(ax, path, "hitting time of the goal cluster", "density", "K=4, M=16, eps=1e-2")


def boost(path, results):
    """E[tau] vs the boost factor f, with T0/f + b (one exit) dashed."""
    rows = sorted(_of(results, "boost", exits=1, edges="all", distract=None), key=lambda r: r.config["f"])
    f = np.array([r.config["f"] for r in rows], dtype=float)
    E = np.array([r.scalars["E"] for r in rows])
    b = E[0] - rows[0].scalars["T0"]
    two = sorted(_of(results, "boost", exits=2, edges="all"), key=lambda r: r.config["f"])
    fig = _figure()
    ax = fig.add_subplot()
    ax.loglog(f, E, "o-", label="one exit, eps=1e-3 (exact)")
    ax.loglog(f, rows[0].scalars["T0"] / f + b, "k--", label="T0/f + b (renewal)")
    ax.loglog(f, [r.scalars["E"] for r in two], "s-", label="two exits, eps=1e-5 (exact)")
    _finish(ax, path, "boost factor f", "E[tau]")


def ladder(path, results):
    """|1 - lambda_i| of the K + 3 eigenvalues closest to 1, against eps."""
    rows = sorted(_of(results, "spectrum"), key=lambda r: r.config["eps"])
    eps = np.array([r.config["eps"] for r in rows])
    values = np.array([r.arrays["ladder"] for r in rows])
    K = rows[0].config["K"]
    fig = _figure()
    ax = fig.add_subplot()
    for i in range(1, values.shape[1]):
        ax.loglog(eps, values[:, i], "o-" if i < K else "s:", label=f"i={i + 1}" + (" (metastable)" if i < K else ""))
    ax.loglog(eps, eps, "k--", label="eps")
    _finish(ax, path, "eps", "|1 - lambda_i|", "eigenvalue ladder (K=4, M=16, backward edges)")


def finetuning(path, results):
    """Exact hitting time and rewarded-edge probability during finetuning."""
    fig = _figure(11, 4.2)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for r in _of(results, "finetune"):
        label = f"{r.config['method']}, eps={r.config['eps']:g}"
        left.semilogy(r.arrays["hitting_time"], label=label)
        right.semilogy(r.arrays["sparse_probability"], label=label)
    eps_max = _of(results, "finetune")[0].config["eps_max"]
    right.axhline(eps_max, color="k", ls="--", label="eps_max")
    _finish(left, path, "iteration", "exact E[tau] under p_W")
    _finish(right, path, "iteration", "mean rewarded-edge probability")


def search(path, results):
    """Fraction of sparse edges recovered vs the budget multiplier B (budget B KM/eps log K)."""
    rows = sorted(_of(results, "search"), key=lambda r: r.config["B"])
    fig = _figure()
    ax = fig.add_subplot()
    ax.errorbar([r.config["B"] for r in rows], [r.scalars["recall"] for r in rows],
                yerr=[3 * r.scalars["recall_se"] for r in rows], fmt="o", capsize=3, label="mean recall (3 SE)")
    ax.plot([r.config["B"] for r in rows], [r.scalars["predicted_recall"] for r in rows], "k:",
            label="prediction from the QSD exit law")
    ax.axhline(0.95, color="k", ls="--", label="0.95")
    _finish(ax, path, "B (budget = B K M / eps log K rollout steps)", "fraction of sparse edges found")


def local_search(path, results):
    """Recall of local vs global search by budget, on the lifted chain with and without decoys."""
    fig = _figure(11, 4.2)
    for i, decoys in enumerate((True, False)):
        rows = sorted(_of(results, "local", decoys=decoys), key=lambda r: r.config["B"])
        B = [r.config["B"] for r in rows]
        ax = fig.add_subplot(1, 2, i + 1)
        for key, fmt, label in (("global_recall", "o", "global Sparse Edge Search"),
                                ("local_recall", "s", f"local search (views of depth {rows[0].config['radius']})")):
            ax.errorbar(B, [r.scalars[key] for r in rows], yerr=[3 * r.scalars[key + "_se"] for r in rows],
                        fmt=fmt, capsize=3, label=f"{label} (3 SE)")
        ax.plot(B, [r.scalars["predicted_recall"] for r in rows], "k:", label="global: QSD prediction")
        ax.plot(B, [r.scalars["view_limit"] for r in rows], "k--", label="limit of any view-based rule")
        ax.set_xscale("log")
        _finish(ax, path, "B (budget = B K M / eps log K rollout steps)", "fraction of sparse edges found",
                "decoys: sparse edges look like decoys" if decoys else "no decoys: sparse edges look unique")


def draw_all(ctx, p, results):
    scaling(ctx.figure_path("eps_times_hitting_time"), p, results)
    histogram(ctx.figure_path("mc_histogram"), results)
    boost(ctx.figure_path("boost"), results)
    ladder(ctx.figure_path("eigenvalue_ladder"), results)
    finetuning(ctx.figure_path("finetuning"), results)
    search(ctx.figure_path("search_recall"), results)
    local_search(ctx.figure_path("local_search_recall"), results)
