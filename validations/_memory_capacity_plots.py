"""Figures of :mod:`validations.memory_capacity` (matplotlib Figure objects, no global state)."""
import numpy as np
from matplotlib.figure import Figure

from validations._figures import save

PANELS = (("diagonal_ssm", "complex"), ("diagonal_ssm", "real"), ("selective_ssm", None), ("fir", None),
          ("linear_attention", None), ("softmax_attention", None))
_SIZE_NAME = {"diagonal_ssm": "n", "selective_ssm": "n", "fir": "k", "linear_attention": "d_k"}


def _cap(family, size, L):
    i = np.arange(1, L)
    shape = np.minimum(i, L - i)
    if size is None:
        return shape
    return np.minimum(size - 1 if family == "fir" else size, shape)


def ess_per_split(path, records):
    """Tolerance-ESS (solid) and entropy-ESS (dotted) per split for the first seed, caps dashed, per family."""
    L = min(r.config["L"] for r in records)
    fig = Figure(figsize=(13, 7.5))
    for p, (family, poles) in enumerate(PANELS):
        ax = fig.add_subplot(2, 3, p + 1)
        runs = sorted((r for r in records if r.config["family"] == family and r.config["L"] == L and r.replicate == 0
                       and (poles is None or r.config["poles"] == poles)), key=lambda r: r.config["size"] or 0)
        for r in runs:
            i = np.arange(1, L)
            line, = ax.plot(i, r.arrays["tolerance"], lw=1.6,
                            label=f"{_SIZE_NAME.get(family, 'ESS')}={r.config['size']}" if r.config["size"] else "ESS")
            ax.plot(i, r.arrays["entropy"], ":", color=line.get_color(), lw=1.2)
            ax.plot(i, _cap(family, r.config["size"], L), "--", color=line.get_color(), lw=0.9, alpha=0.7)
        ax.set_title(f"{family}" + (f" ({poles} poles)" if poles else "") + f", L={L}", fontsize=10)
        ax.set_xlabel("split i")
        ax.set_ylabel("ESS_i")
        ax.legend(fontsize=7, title="solid tol., dotted entropy, dashed cap", title_fontsize=6)
    save(fig, path)


def copy_curve(path, records):
    """COPY MSE per token vs n/L_c: the two constructions on the bound (L_c - n)/L_c, random realisations above."""
    fig = Figure(figsize=(11, 4.4))
    ax, ax_random = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    x = np.linspace(0, 1, 101)
    for a in (ax, ax_random):
        a.plot(x, 1 - x, "k-", lw=1, label="bound (L_c - n)/L_c")
    markers = {"la_copy": ("o", "linear attention construction"), "lti_copy": ("x", "roots-of-unity LTI")}
    for Lc in sorted({r.config["context"] for r in records}):
        for kind, (marker, what) in markers.items():
            runs = sorted((r for r in records if r.config["kind"] == kind and r.config["context"] == Lc
                           and r.replicate == 0), key=lambda r: r.config["n"])
            ax.plot([r.config["n"] / Lc for r in runs], [r.scalars["error"] for r in runs], marker, ms=5,
                    mfc="none" if kind == "la_copy" else None, label=f"{what}, L_c={Lc}")
    ax.set_xlabel("n / L_c")
    ax.set_ylabel("COPY MSE per token")
    ax.set_title("constructions: exactly on the Eckart-Young bound", fontsize=10)
    ax.legend(fontsize=7)
    for kind in ("diagonal_ssm", "linear_attention", "fir", "lti_damped"):
        runs = [r for r in records if r.config["kind"] == kind and (kind != "lti_damped" or r.replicate == 0)]
        n = np.array([r.config["n"] - (kind == "fir") for r in runs], float)
        Lc = np.array([r.config["context"] for r in runs], float)
        what = "roots-of-unity LTI damped to |pole| = 0.999" if kind == "lti_damped" else f"random {kind}"
        ax_random.semilogy(n / Lc, [r.scalars["error"] for r in runs], "+" if kind == "lti_damped" else ".", label=what)
    ax_random.set_ylim(bottom=1e-5)
    ax_random.set_xlabel("n / L_c (n: the cap at split L_c)")
    ax_random.set_ylabel("COPY MSE per token (log)")
    ax_random.set_title("random realisations far above the bound; stable LTI just above", fontsize=10)
    ax_random.legend(fontsize=7)
    save(fig, path)
