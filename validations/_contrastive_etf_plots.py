"""Figures of :mod:`validations.contrastive_etf` (matplotlib Figure objects, no global state)."""
import numpy as np
from matplotlib.figure import Figure

from theorytk.contrastive import etf_loss
from validations._figures import save


def grams(path, records):
    """Gram matrices U U^T of one restart: all C(N, B) batches (the ETF) vs a fixed disjoint partition."""
    kept = {r.config["family"]: r for r in records if "gram" in r.arrays and r.replicate == 0}
    panels = [(f, kept[f]) for f in ("all", "partition") if f in kept]
    fig = Figure(figsize=(5 * len(panels), 4.4))
    for i, (family, record) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        gram = record.arrays["gram"]
        image = ax.imshow(gram, vmin=-1.0, vmax=1.0, cmap="RdBu_r")
        c = record.config
        off = gram[~np.eye(gram.shape[0], dtype=bool)]
        title = "all C(N,B) batches" if family == "all" else "fixed disjoint partition"
        ax.set_title(f"{title}\nN={c['N']}, B={c['B']}, d={c['d']}: off-diagonal in [{off.min():.3f}, {off.max():.3f}]",
                     fontsize=9)
        ax.set_xlabel(f"j   (ETF: -1/(N-1) = {-1 / (c['N'] - 1):.4f})")
        ax.set_ylabel("i")
        fig.colorbar(image, ax=ax, shrink=0.8, label="u_i . u_j")
    save(fig, path)


def schemes(path, records):
    """Full-batch loss minus its optimum vs SGD step, median over seeds with the inter-quartile band, per scheme."""
    fig = Figure(figsize=(6.5, 4.4))
    ax = fig.add_subplot()
    by_scheme = {}
    for r in records:
        by_scheme.setdefault(r.config["scheme"], []).append(r)
    for scheme, runs in sorted(by_scheme.items()):
        c = runs[0].config
        optimum = etf_loss(c["N"], c["N"], c["tau"])
        gaps = np.array([np.maximum(r.arrays["full_loss"] - optimum, 1e-16) for r in runs])
        steps = np.arange(gaps.shape[1])
        low, mid, high = np.percentile(gaps, [25, 50, 75], axis=0)
        ax.plot(steps, mid, label=f"{scheme} (median of {len(runs)} seeds)")
        ax.fill_between(steps, low, high, alpha=0.25)
    ax.set_yscale("log")
    ax.set_xlabel("SGD step (one batch per step; 'all' = mean over all C(N,B))")
    ax.set_ylabel("full-batch loss - ETF optimum")
    ax.set_title(f"batch selection, N={c['N']}, B={c['B']}, d={c['d']}, lr 0.5")
    ax.legend(fontsize=8)
    save(fig, path)
