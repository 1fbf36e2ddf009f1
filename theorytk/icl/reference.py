"""NumPy twin of :mod:`theorytk.icl._kernels` (the same mathematics, batched with einsum).

Used by the tests (kernel == reference) and the benchmark; see the kernels' docstring for the
embedding, the modes and the gradients.
"""
import numpy as np

from theorytk._splitmix import mixed, normals
from theorytk.icl._kernels import COT


def _data_grams(X, y):
    B, n, d = X.shape
    D = 2 * d + 2
    cols = np.zeros((B, n, D))
    cols[:, :, :d] = X
    cols[:, :, d] = y
    return np.einsum("bja,bjc->bac", cols, cols) / n


def _column(w):
    B, d = w.shape
    z = np.zeros((B, 2 * d + 2))
    z[:, d + 1:2 * d + 1] = w
    z[:, -1] = 1.0
    return z


def _gd_step(X, w, wstar, eta):
    n = X.shape[1]
    return w - eta * np.einsum("bja,bj->ba", X, np.einsum("bja,ba->bj", X, w - wstar)) / n


def loss_and_gradients(V, W, X, y, wstar, eta, k, mode):
    """Mean loss over the prompts and its gradients in V and W (as the kernel)."""
    B, n, d = X.shape
    G = _data_grams(X, y)
    w = np.zeros((B, d))
    z = _column(w)
    loss, gV, gW = 0.0, np.zeros_like(V), np.zeros_like(W)
    for _ in range(k if mode == COT else 1):
        G = G + np.einsum("ba,bc->bac", z, z) / n
        g = np.einsum("bac,bc->ba", G, z @ W.T)
        o = z + g @ V.T
        w_next = _gd_step(X, w, wstar, eta) if mode == COT else wstar
        t = _column(w_next)
        r = o - t
        if mode != COT:
            r[:, :d + 1] = 0.0
            r[:, -1] = 0.0
        loss += 0.5 * np.sum(r * r)
        gV += r.T @ g
        gW += np.einsum("bac,bc,bd->ad", G, r @ V, z)
        z, w = t, w_next
    return loss / B, gV / B, gW / B


def looped_loss_and_gradients(V, W, X, y, wstar, K, every):
    """Mean loss of the layer looped K times and its gradients (as the kernel: back-propagation through the loops)."""
    B, n, d = X.shape
    G0 = _data_grams(X, y)
    w_rows = slice(d + 1, 2 * d + 1)
    z = _column(np.zeros((B, d)))
    zs, hs, gs, Gs = [], [], [], []
    for _ in range(K):
        G = G0 + np.einsum("ba,bc->bac", z, z) / n
        h = z @ W.T
        g = np.einsum("bac,bc->ba", G, h)
        zs.append(z), hs.append(h), gs.append(g), Gs.append(G)
        z = z + g @ V.T
    outs = zs[1:] + [z]
    loss, gV, gW = 0.0, np.zeros_like(V), np.zeros_like(W)
    lam = np.zeros_like(z)
    for t in reversed(range(K)):
        if every or t == K - 1:
            r = outs[t][:, w_rows] - wstar
            lam[:, w_rows] += r
            loss += 0.5 * np.sum(r * r)
        a = lam @ V
        c = np.einsum("bac,bc->ba", Gs[t], a)
        gV += lam.T @ gs[t]
        gW += c.T @ zs[t]
        zh = np.sum(zs[t] * hs[t], axis=1, keepdims=True)
        za = np.sum(zs[t] * a, axis=1, keepdims=True)
        lam = lam + c @ W + (zh * a + hs[t] * za) / n
    return loss / B, gV / B, gW / B


def rollout(V, W, X, y, wstar, steps, teacher_eta, looped):
    """Squared errors per prompt and step (as the kernel; NaN after a blow-up)."""
    B, n, d = X.shape
    G0 = _data_grams(X, y)
    G = G0
    w = np.zeros((B, d))
    z = _column(w)
    errors = np.full((B, steps), np.nan)
    alive = np.ones(B, dtype=bool)
    with np.errstate(all="ignore"):
        for i in range(steps):
            G = (G0 if looped else G) + np.einsum("ba,bc->bac", z, z) / n
            o = z + np.einsum("bac,bc->ba", G, z @ W.T) @ V.T
            err = np.sum((o[:, d + 1:2 * d + 1] - wstar) ** 2, axis=1)
            alive &= np.abs(err) <= 1e100
            errors[alive, i] = err[alive]
            if teacher_eta > 0.0:
                w = _gd_step(X, w, wstar, teacher_eta)
                z = _column(w)
            else:
                z = o
    return errors


def sample_prompts(batch, n, d, scale, seed):
    """``(X, y, w*)`` of :func:`theorytk.icl._kernels.sample_prompts` for ``batch`` prompts under ``seed`` (uint64)."""
    count = d + n * d
    values = normals(mixed(seed, np.arange(batch)), (count + 1) // 2)[:, :count]
    wstar, X = values[:, :d], scale * values[:, d:].reshape(batch, n, d)
    return X, np.einsum("bja,ba->bj", X, wstar), wstar
