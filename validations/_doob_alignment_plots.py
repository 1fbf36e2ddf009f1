"""Figures of :mod:`validations.doob_alignment` (matplotlib Figure objects, no global state)."""
import numpy as np
from matplotlib.figure import Figure

from theorytk.alignment import tilt
from theorytk.plotting import plot_bound_vs_empirical
from validations._figures import save


def p1_bound(path, p, results, fits):
    """Per d: TV_up vs h (T = 4, eps = 0, both schemes) with the bound shape, and W2 vs h with its fitted slope."""
    from validations.doob_alignment import _bound_inputs
    from proofs.doob_alignment import SAMPLING_BOUND

    fig = Figure(figsize=(5 * len(p["dims"]), 8))
    for i, d in enumerate(p["dims"]):
        ax = fig.add_subplot(2, len(p["dims"]), i + 1)
        kl0, lip, m2 = _bound_inputs(d)
        for scheme, marker in (("exponential", "o"), ("euler", "s")):
            rows = sorted((r.config["steps"], r.scalars["kl"]) for r in results if r.config["family"] == "p1"
                          and r.config["start"] == "standard" and r.config["d"] == d and r.config["scheme"] == scheme
                          and r.config["eps"] == 0 and r.config["horizon"] == 4.0)
            h = 4.0 / np.array([n for n, _ in rows], dtype=float)
            ax.loglog(h, np.sqrt(np.array([k for _, k in rows]) / 2), marker + "-", label=f"TV_up, {scheme}")
        ax.loglog(h, SAMPLING_BOUND.evaluate(KL0=kl0, T=4.0, L=lip, d=d, h=h, m2=m2, eps=0.0), "k--",
                  label="bound shape (C = 1)")
        ax.set(xlabel="step h", ylabel="sqrt(KL(q||law)/2)", title=f"P1 d={d}, T=4, eps=0")
        ax.legend(fontsize=7)
        ax = fig.add_subplot(2, len(p["dims"]), len(p["dims"]) + i + 1)
        for scheme, marker in (("exponential", "o"), ("euler", "s")):
            h, w2, fit = fits[d, scheme]
            ax.loglog(h, w2, marker + "-", label=f"{scheme}: slope {fit.slope:.2f} [{fit.lo:.2f}, {fit.hi:.2f}]")
        ax.loglog(h, w2[-1] * h / h[-1], "k:", label="slope 1")
        ax.set(xlabel="step h", ylabel="W2(q, law)", title=f"P1 d={d}: W2 vs h, exact start (no init error)")
        ax.legend(fontsize=7)
    save(fig, path)


def score_error(path, results):
    """The score-error term against eps sqrt(T), and the Girsanov KL against eps^2 T."""
    rows = [r for r in results if r.config["family"] == "p1" and r.config["start"] == "standard" and r.config["eps"] > 0]
    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    term = np.array([r.config["eps"] * np.sqrt(r.config["horizon"]) for r in rows])
    diff = np.array([np.sqrt(2) * (r.scalars["hellinger"] - r.scalars["hellinger_clean"]) for r in rows])
    kl = np.array([r.scalars["kl_clean_to_eps"] for r in rows])
    ax1.scatter(term, np.abs(diff), s=8, c=[r.config["d"] for r in rows], cmap="viridis")
    grid = np.geomspace(term.min(), term.max())
    ax1.loglog(grid, grid, "k--", label="eps sqrt(T)")
    ax1.set(xlabel="eps sqrt(T)", ylabel="|sqrt2 (H_eps - H_0)|", title="score-error term (colour: d)")
    ax1.legend()
    ax2.scatter(term**2, kl, s=8, c=[r.config["d"] for r in rows], cmap="viridis")
    ax2.loglog(grid**2, grid**2, "k--", label="eps^2 T (Girsanov)")
    ax2.set(xlabel="eps^2 T", ylabel="KL(law_0 || law_eps)", title="Girsanov bound, discrete chains")
    ax2.legend()
    save(fig, path)


def modes(path, results):
    """1-D histograms (Doob sampler, ULA, target density) per mode position, and the 2-D 25-mode samples."""
    from validations.doob_alignment import grid_modes, two_modes

    one_d = sorted({r.config["a"] for r in results if r.config["family"] == "p2" and r.config["problem"] == "1d"
                    and r.config["method"] == "ula"})
    fig = Figure(figsize=(5 * (len(one_d) + 1), 4.2))
    for i, a in enumerate(one_d):
        ax = fig.add_subplot(1, len(one_d) + 1, i + 1)
        ref, pot = two_modes(a)
        target = tilt(ref, pot).target
        x = np.linspace(-a - 2, a + 2, 600)
        ax.plot(x, np.exp(target.log_density(x[:, None])), "k-", label="target q (closed form)")
        for method in ("exact", "ula"):
            run = next(r for r in results if r.config["family"] == "p2" and r.config["problem"] == "1d"
                       and r.config.get("a") == a and r.config["method"] == method)
            ax.hist(run.arrays["samples"][:, 0], bins=80, density=True, alpha=0.5,
                    label=f"{'Doob sampler' if method == 'exact' else 'ULA from p_ref'}: right {run.scalars['fraction']:.3f}")
        ax.set(title=f"modes at +-{a:g}, target right weight {target.weights[1]:.3f}", xlabel="x")
        ax.legend(fontsize=7)
    ax = fig.add_subplot(1, len(one_d) + 1, len(one_d) + 1)
    ref, pot = grid_modes()
    run = next(r for r in results if r.config["family"] == "p2" and r.config["problem"] == "grid")
    ax.scatter(*run.arrays["samples"].T, s=2, alpha=0.4, label="Doob sampler")
    target = tilt(ref, pot).target
    ax.scatter(*target.means.T, s=400 * target.weights, facecolors="none", edgecolors="r", label="q weights (area)")
    ax.set(title="2-D 25 modes, linear tilt", xlabel="x1", ylabel="x2")
    ax.legend(fontsize=7, loc="lower left")
    save(fig, path)


def mc_rate(path, mc):
    """RMS error of the MC correction vs M, and the sampler's mode-weight error vs M."""
    fig = Figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 2, 1)
    plot_bound_vs_empirical(mc["sizes"], median=mc["rmse"], lo=mc["rmse"] - 2 * mc["rmse_se"],
                            hi=mc["rmse"] + 2 * mc["rmse_se"], fit=mc["fit"],
                            bounds={"M^-1/2 (through the first point)": mc["rmse"][0] * np.sqrt(mc["sizes"][0] / mc["sizes"])},
                            ax=ax, xlabel="M (posterior draws)", ylabel="RMS error of the correction",
                            title="self-normalised MC correction")
    ax = fig.add_subplot(1, 2, 2)
    sizes = [r.config["M"] for r in mc["mc"]]
    err, se = mc["log_odds"].T
    ax.plot(sizes, err, "o-", label="|logit(1 - w_hat) - logit(1 - w*)|")
    ax.plot(sizes, 3 * se, "k--", label="the gate: 3 SE of it")
    ax.set(xscale="log", xlabel="M", ylabel="minority-mass log-odds error", title="sampler with the MC correction")
    ax.legend(fontsize=8)
    save(fig, path)


def dual_averaging(path, results):
    """k x gap_k for the closed-form DA problems; DPO's successive-iterate gap and its limit's mode weights."""
    fig = Figure(figsize=(15, 4.2))
    ax = fig.add_subplot(1, 3, 1)
    for r in (r for r in results if r.config["family"] == "da"):
        gap = r.arrays["gap"]
        k = np.arange(1, len(gap))
        ax.loglog(k, np.maximum(k * gap[1:], 1e-18), label=f"{r.config['objective']}, {r.config['weights']} weights, "
                                                             f"beta' = {r.config['beta_prime_factor']:g} beta")
    ax.set(xlabel="k", ylabel="k (L(q_k) - L*)", title="DA envelope (closed-form problems)")
    ax.legend(fontsize=7)
    ax = fig.add_subplot(1, 3, 2)
    dpo = next(r for r in results if r.config["family"] == "dpo")
    change = dpo.arrays["iterate_change"]
    k = np.arange(1, len(change) + 1)
    ax.loglog(k, k * change, "o-", label="k |theta_(k+1) - theta_k|")
    ax.loglog(k, change, "s-", label="|theta_(k+1) - theta_k|")
    ax.set(xlabel="k", title="DA on synthetic DPO (nonconvex)")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(1, 3, 3)
    modes = np.arange(4)
    a = dpo.arrays
    ax.bar(modes - 0.27, a["limit_weights"], 0.27, yerr=3 * a["limit_weights_se"], capsize=3,
           label=f"DA limit (mean of {dpo.config['limit_replicates']} pair sets, 3 SE)")
    ax.bar(modes, a["population_weights"], 0.27, label="population optimum of F + beta KL")
    ax.bar(modes + 0.27, a["unregularised_weights"], 0.27, label="p_ref e^{r/beta} (DPO loss alone)")
    ax.set(xticks=modes, xticklabels=[f"mode {i}" for i in modes], ylabel="mode weight", title="DPO: where DA goes")
    ax.legend(fontsize=7)
    save(fig, path)
