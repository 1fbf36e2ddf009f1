"""Figures of :mod:`validations.icl_cot` (matplotlib Figure objects, no global state)."""
import numpy as np
from matplotlib.figure import Figure

from validations._figures import save


def error_vs_k(path, records, floor):
    """Trained CoT rollout (mean +- 3 SE, median) and exact GD on the same prompts vs k, with the no-CoT floor."""
    fig = Figure(figsize=(5.5 * len(records), 4.4))
    for i, r in enumerate(records):
        ax = fig.add_subplot(1, len(records), i + 1)
        c = r.config
        k = np.arange(1, r.arrays["trained_mean"].size + 1)
        ax.errorbar(k, r.arrays["trained_mean"], yerr=3 * r.arrays["trained_se"], fmt="o-", label="trained LSA, mean")
        ax.plot(k, r.arrays["trained_median"], "s--", label="trained LSA, median")
        ax.plot(k, r.arrays["gd_mean"], "k:", lw=2, label="exact GD on the same prompts, mean")
        ax.axhline(float(floor.evaluate(d=c["d"], n=c["n"])), color="r", label="no-CoT floor d(d+1)/(n+d+1)")
        ax.set_yscale("log")
        ax.set_xlabel("CoT step k")
        ax.set_ylabel("||w_hat_k - w*||^2")
        ax.set_title(f"d={c['d']}, n={c['n']}, eta = 1/(1+sqrt(d/n))^2", fontsize=9)
        ax.legend(fontsize=7)
    save(fig, path)


def parameters(path, record):
    """Heatmaps of the learned V and W (row/column blocks x, y, w, 1)."""
    fig = Figure(figsize=(10, 4.4))
    d = record.config["d"]
    edges = np.array([d, d + 1, 2 * d + 1]) - 0.5
    for i, key in enumerate(("V", "W")):
        ax = fig.add_subplot(1, 2, i + 1)
        M = record.arrays[key]
        lim = np.abs(M).max()
        image = ax.imshow(M, cmap="RdBu_r", vmin=-lim, vmax=lim)
        for e in edges:
            ax.axhline(e, color="k", lw=0.5)
            ax.axvline(e, color="k", lw=0.5)
        ax.set_title(f"learned {key}, d={d} (blocks x | y | w | 1)", fontsize=9)
        fig.colorbar(image, ax=ax, shrink=0.8)
    save(fig, path)


def newton_schulz(path, norms):
    """||I - A X_k||_2 of the looped LSA layer vs k for each condition number, with rho^(2^k) dotted."""
    fig = Figure(figsize=(6.5, 4.4))
    ax = fig.add_subplot()
    for kappa, r in norms.items():
        k = np.arange(r.size)
        rho = (kappa - 1) / (kappa + 1)
        line, = ax.semilogy(k, np.maximum(r, 1e-17), "o", label=f"looped LSA, kappa={kappa:g}")
        ax.semilogy(k, np.maximum(rho ** (2.0 ** k), 1e-17), ":", color=line.get_color())
    ax.set_xlabel("loop k")
    ax.set_ylabel("||I - A X_k||_2   (dotted: rho^(2^k))")
    ax.legend(fontsize=7)
    save(fig, path)


def looped_vs_k(path, curves):
    """Looped-layer error vs the number of loops K: trained layers (mean +- 3 SE over replicates), the exact
    equal-step optimum E_K(gamma_K) (K <= 2), the equal-step constructions at gamma_1, gamma_2 looped K times, and
    the full-parameter layer against the two-loop polynomial optimum."""
    fig = Figure(figsize=(6.5, 4.6))
    ax = fig.add_subplot()
    K = curves["K"]
    for k in (1, 2):
        ax.semilogy(K, curves[f"gamma_{k}"], ":", label=f"construction at gamma_{k} looped K times (MC)")
    ks = sorted(curves["exact"])
    ax.semilogy(ks, [curves["exact"][k] for k in ks], "k*", ms=12, label="exact E_K(gamma_K)")
    ks = sorted(curves["trained"])
    ax.errorbar(ks, [curves["trained"][k][0] for k in ks], yerr=[3 * curves["trained"][k][1] for k in ks], fmt="o",
                label="trained, preconditioned form (final-output loss)")
    if curves["full"] is not None:
        ax.errorbar([2], [curves["full"][0]], yerr=[3 * curves["full"][1]], fmt="s", color="C3",
                    label="trained, every entry (K=2)")
        ax.semilogy([2], [curves["polynomial"]], "v", color="C3", ms=9, label="two-loop polynomial optimum")
    ax.set_xlabel("loops K")
    ax.set_ylabel("||w_hat_K - w*||^2")
    ax.set_title(f"looped LSA, d={curves['d']}, n={curves['n']} (means over prompts: a fixed step diverges in mean "
                 "as K grows)", fontsize=8)
    ax.legend(fontsize=7)
    save(fig, path)
