"""Figures of :mod:`validations.dfiv_rates` (matplotlib Figure objects, no global state)."""
from fractions import Fraction

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, NullLocator

from proofs import dfiv_rates as thm
from validations._figures import save

_BESOV = {"jump": (1, 1), "kink": (2, 1), "smooth": None}


def _log_axes(ax, xlabel, ylabel, title):
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())   # minor-tick labels collide on ranges under a decade
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)


def _exponent_line(x, y0, exponent):
    """A reference power law through the first point: y0 (x/x0)^-exponent (the constant is not known)."""
    return y0 * (x / x[0]) ** (-exponent)


def risk_vs_n(path, p, fits, alpha, proxies):
    """One row per target: L2 risk of sieve (oracle), DFIV (validation-tuned), KIV (authors' criteria), projected risks.

    Black lines: the sympy exponents (adaptive 2s/(2s+2r+d), fixed-feature 2s'/(2s'+2r+d),
    projected 2(s+r)/(2(s+r)+d)) drawn through the first point (their constants are unknown).
    Blue dashed (L2 panels): the oracle sieve's bias-variance proxy ``proxies[target]`` at the
    sieve's N (:meth:`theorytk.dfiv.data.CircleIV.oracle_sieve_proxy`; absolute, no fitted constant).
    """
    targets = p["targets"]
    fig = Figure(figsize=(11, 3.6 * len(targets)))
    for i, target in enumerate(targets):
        for j, (kind, suffix) in enumerate((("L2 risk", "l2"), ("projected risk", "projected"))):
            ax = fig.add_subplot(len(targets), 2, 2 * i + j + 1)
            for method, value, color, tuning in (("sieve", f"oracle_{suffix}", "C0", "oracle-tuned"),
                                                 ("dfiv", suffix, "C1", "validation-tuned"),
                                                 ("kiv", suffix, "C2", "authors' criteria")):
                if (target, method, value) not in fits:
                    continue
                x, s, fit = fits[(target, method, value)]
                ax.errorbar(x, s.mean(0), yerr=s.std(0, ddof=1) / np.sqrt(len(s)), fmt="o-", color=color, capsize=2,
                            label=f"{method} ({tuning}), slope {fit.slope:.2f} [{fit.lo:.2f}, {fit.hi:.2f}]")
            x_all = np.array(sorted({n for key, v in fits.items() if key[0] == target for n in v[0]}), dtype=float)
            y0 = fits[(target, "sieve", f"oracle_{suffix}")][1].mean(0)[0]
            if _BESOV[target] is not None:
                smooth, integ = _BESOV[target]
                r = 2 * alpha
                if suffix == "l2":
                    lines = {"adaptive (DFIV) exponent": float(thm.L2_RISK.evaluate(s=smooth, r=r, d=1)),
                             "fixed-feature exponent": float(thm.LINEAR_L2_RISK.evaluate(s=smooth, r=r, d=1, p=integ))}
                else:
                    lines = {"projected exponent": float(thm.PROJECTED_RISK.evaluate(s=smooth, r=r, d=1))}
                for (label, e), ls in zip(lines.items(), ("--", ":")):
                    ax.plot(x_all, _exponent_line(x_all, y0, e), ls, color="k", label=f"{label} -{e:.3f}")
            if suffix == "l2":
                xs = fits[(target, "sieve", "oracle_l2")][0]
                slope = np.polyfit(np.log(xs), np.log(proxies[target]), 1)[0]
                ax.plot(xs, proxies[target], "--", color="C0", label=f"sieve bias-variance proxy, slope {slope:.2f}")
            _log_axes(ax, "N (n = m = N/2)", kind, f"{target}, r = {2 * alpha:g}")
            ax.legend(fontsize=6)
    save(fig, path)


def stage1(path, table):
    """L2 risk against the stage-1 size m1 at a fixed stage-2 size."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    n2 = table["stage2_size"]
    for method, color in (("dfiv", "C1"), ("sieve", "C0")):
        m1 = np.array(sorted(table[method]), dtype=float)
        ax.plot(m1 / n2, [table[method][int(k)] for k in m1], "o-", color=color, label=method)
    ax.axvline(1.0, ls=":", color="k", label="m1 = n2")
    _log_axes(ax, "stage-1 size / stage-2 size", "mean L2 risk (jump)", f"stage-1 sweep, stage-2 size {n2}")
    ratios = sorted({int(k) / n2 for k in table["dfiv"]})
    ax.set_xticks(ratios, [str(Fraction(r).limit_denominator(64)) for r in ratios])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.legend(fontsize=8)
    save(fig, path)


def demand_box(path, demand):
    """Box plot of log10 out-of-sample MSE per rho and method (as in Xu et al.'s figure)."""
    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    methods = sorted(demand)
    rhos = sorted(next(iter(demand.values())))
    for k, method in enumerate(methods):
        pos = np.arange(len(rhos)) * (len(methods) + 1) + k
        ax.boxplot([np.log10(demand[method][rho]) for rho in rhos], positions=pos, widths=0.8,
                   patch_artist=True, boxprops={"facecolor": f"C{k}"})
        ax.plot([], [], "s", color=f"C{k}", label=method)
    ax.set_xticks(np.arange(len(rhos)) * (len(methods) + 1) + (len(methods) - 1) / 2)
    ax.set_xticklabels([f"rho={r:g}" for r in rhos])
    ax.set_ylabel("log10 out-of-sample MSE")
    ax.set_title("demand design (DFIV authors' version), n = 5000")
    ax.legend(fontsize=8)
    save(fig, path)
