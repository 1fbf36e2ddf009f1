"""Figures of :mod:`validations.reversal_curse` (matplotlib Figure objects, no global state)."""
import numpy as np
from matplotlib.figure import Figure

from theorytk.plotting import plot_bound_vs_empirical
from validations._figures import save


def _samples(runs, value):
    """(dims, samples reps x dims) of ``value(run)`` for the Gaussian sweep."""
    dims = sorted({r.config["d"] for r in runs})
    reps = min(sum(r.config["d"] == d for r in runs) for d in dims)
    table = np.array([[value(r) for r in runs if r.config["d"] == d][:reps] for d in dims]).T
    return np.array(dims, float), table


def versus_d(path, runs, C, fit_max_d, thm):
    """Envelope |log(M p_rev)| with C d^-1/2; mean reverse p with 1/M; eps_emp with the derived eps(d)."""
    fig = Figure(figsize=(15, 4.6))
    dims, worst = _samples(runs, lambda r: float(np.max(r.arrays["envelope"])))
    M = 2.0 * runs[0].config["P"]
    plot_bound_vs_empirical(dims, worst, bounds={f"C d^-1/2 (C = {C:.3g}, fitted on M <= d <= {fit_max_d})":
                                                 thm.REVERSE_ENVELOPE.evaluate(C=C, d=dims, M=M)},
                            ax=fig.add_subplot(1, 3, 1), xlabel="d", ylabel="max_t,i |log(M p(A_i|B_i))|",
                            title="reverse-untrained pairs: envelope")
    ax = fig.add_subplot(1, 3, 2)
    _, p = _samples(runs, lambda r: float(r.arrays["reverse_p"][-1]))
    ax.errorbar(dims, p.mean(axis=0), yerr=2 * p.std(axis=0, ddof=1) / np.sqrt(p.shape[0]), fmt="o-", capsize=3,
                label="mean p(A|B) at the end (+-2 SE)")
    ax.axhline(float(thm.ONE_HOT_REVERSE_INVARIANCE.evaluate(M=M)), color="k", ls="--", lw=1, label="1/M (one-hot exact)")
    ax.set_xscale("log")
    ax.set_xlabel("d")
    ax.set_ylabel("reverse probability")
    ax.set_title("reverse probability vs d (training loss <= 0.05)", fontsize=10)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(1, 3, 3)
    _, eps = _samples(runs, lambda r: r.scalars["exponent"])
    _, ratio = _samples(runs, lambda r: r.arrays["loss"][0] / r.arrays["loss"][-1])
    ax.errorbar(dims, eps.mean(axis=0), yerr=2 * eps.std(axis=0, ddof=1) / np.sqrt(eps.shape[0]), fmt="o-", capsize=3,
                label="eps_emp = log(L_rev,T/L_rev,0)/log(L_T/L_0) (+-2 SE)")
    ok = (C / np.sqrt(dims) < np.log(M)) & (dims >= M)
    bound = thm.REVERSE_EXPONENT_BOUND.evaluate(C=C, d=dims[ok], M=M, r=ratio.mean(axis=0)[ok])
    ax.plot(dims[ok], bound, "k--", lw=1, label="derived bound eps(d)")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("d")
    ax.set_ylabel("reverse-loss exponent")
    ax.set_title("reverse exponent vs d: below the bound, <= 0 on average", fontsize=10)
    ax.legend(fontsize=7)
    save(fig, path)


def loss_curves(path, gaussian, one_hot, chains):
    """Training and reverse loss against the step (first seed): Gaussian per d, one-hot; chains' p(C|A)."""
    fig = Figure(figsize=(15, 4.6))
    ax = fig.add_subplot(1, 3, 1)
    for r in (r for r in gaussian if r.replicate == 0):
        steps = r.arrays["steps"] + 1
        line, = ax.loglog(steps, r.arrays["loss"], "-", lw=1.4, label=f"L_t, d={r.config['d']}")
        ax.loglog(steps, r.arrays["reverse_loss"], ":", color=line.get_color(), lw=1.4)
    ax.set_xlabel("GD step + 1")
    ax.set_ylabel("cross-entropy")
    ax.set_title("Gaussian: L_t (solid) falls, L_rev,t (dotted) does not", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    ax = fig.add_subplot(1, 3, 2)
    for r in (r for r in one_hot if r.replicate == 0):
        steps = r.arrays["steps"] + 1
        line, = ax.semilogx(steps, r.arrays["trained"].mean(axis=1), "-", lw=1.4,
                            label=f"trained p, P={r.config['P']}, both={r.config['both']}")
        ax.semilogx(steps, r.arrays["reverse"].mean(axis=1), "--", color=line.get_color(), lw=1.2)
    ax.set_xlabel("GD step + 1")
    ax.set_ylabel("probability")
    ax.set_title("one-hot: trained p -> 1 (solid), reverse p = 1/M (dashed)", fontsize=10)
    ax.legend(fontsize=7)
    ax = fig.add_subplot(1, 3, 3)
    for r in (r for r in chains if r.replicate == 0):
        steps = r.arrays["steps"] + 1
        M = 3 * r.config["P"]
        line, = ax.loglog(steps, r.arrays["transitive"].mean(axis=1), "o-", ms=3, lw=1.2,
                          label=f"p(C|A), P={r.config['P']}")
        ax.axhline(1.0 / M, color=line.get_color(), ls="--", lw=0.9, label=f"1/M = 1/{M}")
    ax.set_xlabel("GD step + 1")
    ax.set_ylabel("p(C | A)")
    ax.set_title("one-hot chains: A -> C falls below chance", fontsize=10)
    ax.legend(fontsize=7)
    save(fig, path)
