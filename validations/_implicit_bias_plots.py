"""Figures of :mod:`validations.implicit_bias` (matplotlib Figure objects, no global state)."""
import numpy as np
from matplotlib.figure import Figure

from validations._figures import save


def _first_seed(records):
    """Replicate 0 of each L at the largest eta, by L."""
    eta = max(r.config["eta"] for r in records)
    return sorted((r for r in records if r.replicate == 0 and r.config["eta"] == eta), key=lambda r: r.config["L"])


def trajectories(path, records):
    """||W||, ||u|| and eta t L_t against t (log axis), with the SVM constants of h_T dashed."""
    fig = Figure(figsize=(13, 4.2))
    ax_w, ax_u, ax_rate = (fig.add_subplot(1, 3, i) for i in (1, 2, 3))
    for r in _first_seed(records):
        a, L = r.arrays, r.config["L"]
        t = a["steps"]
        line, = ax_w.semilogx(t, a["w_norm"], lw=1.6, label=f"L={L}")
        ax_u.semilogx(t, a["u_norm"], lw=1.6, color=line.get_color(), label=f"L={L}")
        w_hat = r.scalars["w_hat_T"]
        late = t >= t[-1] / 10
        offset = np.mean(a["u_norm"][late] - w_hat * np.log(t[late]))
        ax_u.semilogx(t[t >= 10], w_hat * np.log(t[t >= 10]) + offset, "--", color=line.get_color(), lw=1,
                      label=f"||w_hat|| log t + c, ||w_hat||={w_hat:.3g}")
        ax_rate.semilogx(t, a["eta_t_loss"], lw=1.6, color=line.get_color(), label=f"L={L}")
        ax_rate.axhline(w_hat**2, ls="--", color=line.get_color(), lw=1, label=f"||w_hat||^2={w_hat**2:.3g}")
    ax_w.set_title("attention ||W||_F: fast in phase 1, then ever slower", fontsize=10)
    ax_u.set_title("readout ||u||: logarithmic growth at slope ||w_hat(h_T)||", fontsize=10)
    ax_rate.set_title("eta t L_t -> ||w_hat(h_T)||^2", fontsize=10)
    ax_rate.set_ylim(0, 3 * max(r.scalars["w_hat_T"] ** 2 for r in _first_seed(records)))
    for ax, label in ((ax_w, "||W||_F"), (ax_u, "||u||"), (ax_rate, "eta t L_t")):
        ax.set_xlabel("GD step t")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    save(fig, path)


def direction(path, records):
    """cos(u_t, w_hat(h_t)) and 1 - cos against t (log-log), every seed thin, replicate 0 thick."""
    fig = Figure(figsize=(10, 4.2))
    ax_cos, ax_gap = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    colours = {}
    for r in sorted(records, key=lambda r: (r.config["L"], r.config["eta"], r.replicate)):
        a = r.arrays
        key = (r.config["L"], r.config["eta"])
        keep = a["gap"] > 0
        style = dict(lw=1.8 if r.replicate == 0 else 0.6, alpha=1.0 if r.replicate == 0 else 0.5)
        if key in colours:
            style["color"] = colours[key]
        else:
            style["label"] = f"L={key[0]}, eta={key[1]:g}"
        line, = ax_gap.loglog(a["steps"][keep], a["gap"][keep], **style)
        colours.setdefault(key, line.get_color())
        ax_cos.semilogx(a["steps"], 1 - a["gap"], color=line.get_color(), lw=style["lw"], alpha=style["alpha"])
    ax_gap.axhline(5e-3, ls="--", color="k", lw=1, label="tolerance 5e-3 at T")
    ax_cos.set_ylim(0.9, 1.0005)
    ax_cos.set_title("cos(u_t, w_hat(h_t)) (taken as 0 before h_t is separable)", fontsize=10)
    ax_gap.set_title("1 - cos(u_t, w_hat(h_t))", fontsize=10)
    for ax, label in ((ax_cos, "cos"), (ax_gap, "1 - cos")):
        ax.set_xlabel("GD step t")
        ax.set_ylabel(label)
    ax_gap.legend(fontsize=7)
    save(fig, path)
