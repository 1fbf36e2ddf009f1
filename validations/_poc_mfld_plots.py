"""Figures of :mod:`validations.poc_mfld` (matplotlib Figure objects, no global state)."""
import numpy as np
from matplotlib.figure import Figure

from theorytk.plotting import plot_bound_vs_empirical
from validations._figures import save


def bound_vs_empirical(path, p, samples, optima, fits):
    """One panel per lam: E||f_X - f*||^2 vs N, with Vbar/N and R^2/N dashed and the fitted slope."""
    widths = np.array(p["widths"], dtype=float)
    fig = Figure(figsize=(5 * len(p["lams"]), 4.2))
    for i, lam in enumerate(p["lams"]):
        ax = fig.add_subplot(1, len(p["lams"]), i + 1)
        plot_bound_vs_empirical(widths, samples[lam],
                                bounds={"Vbar/N (LSI-free, derived)": optima[lam].variance / widths,
                                        "R^2/N": 1.0 / widths},
                                fit=fits[lam], ax=ax, xlabel="N (particles)", ylabel="E||f_X - f*||_n^2",
                                title=f"lam = {lam:g}")
    save(fig, path)


def ensembles(path, p, table, eta, lam):
    """NM E for ensembles of M width-N networks against single networks of width NM (at ``lam``)."""
    fig = Figure(figsize=(6, 4.2))
    ax = fig.add_subplot()
    singles = sorted((k[2], v) for k, v in table.items() if k[0] == "main" and k[1] == lam)
    x = np.array([n for n, _ in singles], dtype=float)
    ax.errorbar(x, [n * v[0] for n, v in singles], yerr=[3 * n * v[1] for n, v in singles], fmt="o-",
                color="k", capsize=3, label="one network of width NM (3 SE bars)")
    for n in sorted({n for n, _ in p["ensembles"]}):
        ms = [m for nn, m in p["ensembles"] if nn == n]
        vals = [table[("ensemble", lam, n, m, eta)] for m in ms]
        ax.errorbar([n * m for m in ms], [n * m * v[0] for m, v in zip(ms, vals)],
                    yerr=[3 * n * m * v[1] for m, v in zip(ms, vals)], fmt="s", capsize=3, ms=8, mfc="none",
                    label=f"ensembles of M width-{n} networks")
    ax.set_xscale("log")
    ax.set_xlabel("NM (total particles)")
    ax.set_ylabel("NM x E||f - f*||_n^2")
    ax.set_title(f"ensembles behave like wide networks (lam = {lam:g})")
    ax.legend(fontsize=8)
    save(fig, path)


def new_vs_old(path, p, n_err, n_se, vbar, old_bound):
    """Against lam: N E (largest over N), the LSI-free bound Vbar, R^2, and the LSI-based bound ``old_bound(lam)``.

    The old bound is astronomically large at small lam (it overflows to inf below lam ~ 0.005,
    and is above 1e4 for every lam <= 0.4); the y-axis is cut at 1e4 so that the measured
    points stay readable, the lam-axis runs to 10 x the largest lam so that the old curve
    enters the panel, and the curve is drawn only below 1e6 (larger values overflow
    matplotlib's log transform).
    """
    lams = np.array(p["lams"])
    dense = np.geomspace(lams.min() / 2, lams.max() * 10, 200)
    with np.errstate(over="ignore"):
        old = old_bound(dense)
    fig = Figure(figsize=(6, 4.2))
    ax = fig.add_subplot()
    worst = n_err.argmax(axis=1)
    ax.errorbar(lams, n_err.max(axis=1), yerr=3 * n_se[np.arange(len(lams)), worst], fmt="o", capsize=3,
                color="C0", label="max over N of N x E (3 SE bars)")
    ax.plot(lams, vbar, "s--", color="C1", label="Vbar (LSI-free bound, at the simulated lam)")
    ax.axhline(1.0, ls=":", color="C2", label="R^2 = 1")
    shown = np.isfinite(old) & (old < 1e6)
    ax.plot(dense[shown], old[shown], "--", color="C3", label="C/(alpha_HS lam), C = L R^2/2 (shape)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(0.3 * float(np.min(n_err.max(axis=1))), 1e4)
    ax.set_xlabel("lam (entropic regularisation)")
    ax.set_ylabel("N x error")
    ax.set_title("the particle error does not blow up as lam shrinks")
    ax.legend(fontsize=8)
    save(fig, path)


def linear_gaussian(path, p, table, linear, eta):
    """Linear-Gaussian E||f_X - f*||^2 against N: simulation and closed forms."""
    widths = np.array(p["linear_widths"], dtype=float)
    vals = np.array([table[("linear", p["linear_lam"], n, 1, eta)][:2] for n in p["linear_widths"]])
    fig = Figure(figsize=(6, 4.2))
    ax = fig.add_subplot()
    ax.errorbar(widths, vals[:, 0], yerr=4 * vals[:, 1], fmt="o", capsize=3, label="simulation (4 SE bars)")
    ax.plot(widths, [linear.prediction_error(int(n), eta) for n in widths], "--", label=f"closed form, eta = {eta:g}")
    ax.plot(widths, [linear.prediction_error(int(n)) for n in widths], ":", label="closed form, continuous time")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N")
    ax.set_ylabel("E||f_X - f*||_n^2")
    ax.set_title(f"linear-Gaussian case (lam = {p['linear_lam']:g})")
    ax.legend(fontsize=8)
    save(fig, path)
