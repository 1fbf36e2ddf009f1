r"""Plain-NumPy twin of :mod:`theorytk.implicit_bias._kernels` (the executable specification).

Dense: every string is embedded as an (L, D) matrix X (rows x_i = [onehot(s_i); onehot(i)],
zero rows after its end), scores :math:`a = X W x_{T-1}` masked to the string, softmax,
:math:`h = X^\top p`, :math:`f = u^\top h`, mean logistic loss; gradients as in the kernel's
docstring, written with ``einsum``.
"""
import numpy as np


def embed(tokens, lengths, D):
    """``(X (N, L, D), mask (N, L) bool, last (N, D))``: embeddings, the string positions, the query x_{T-1}."""
    N, L = tokens.shape
    mask = np.arange(L)[None, :] < lengths[:, None]
    X = np.zeros((N, L, D))
    n, i = np.nonzero(mask)
    X[n, i, tokens[n, i]] = 1.0
    X[n, i, 2 + i] = 1.0
    last = X[np.arange(N), lengths - 1]
    return X, mask, last


def forward(W, u, X, mask, last):
    """``(p (N, L), h (N, D), f (N,))``."""
    scores = np.einsum("nid,de,ne->ni", X, W, last)
    scores = np.where(mask, scores, -np.inf)
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    h = np.einsum("ni,nid->nd", p, X)
    return p, h, h @ u


def loss_and_gradients(W, u, X, mask, last, labels, with_attention=True):
    """``(loss, accuracy, gW, gu, h)`` of the mean logistic loss."""
    p, h, f = forward(W, u, X, mask, last)
    z = labels * f
    loss = np.mean(np.logaddexp(0.0, -z))
    g = -labels / (1.0 + np.exp(z)) / labels.size
    gu = h.T @ g
    gW = np.zeros_like(W)
    if with_attention:
        da = g[:, None] * p * (X @ u - f[:, None])
        gW = np.einsum("ni,nid,ne->de", da, X, last)
    return loss, np.mean(z > 0), gW, gu, h


def train(tokens, lengths, labels, W, u, eta, steps, record, with_attention=True):
    """Full-batch GD from copies of (W, u); returns ``(W, u, records)`` with records as the kernel's outputs."""
    W, u = W.copy(), u.copy()
    X, mask, last = embed(tokens, lengths, W.shape[0])
    out = {key: [] for key in ("w_norm", "u_norm", "loss", "accuracy", "u", "features")}
    wanted = set(int(r) for r in record)
    for step in range(steps + 1):
        loss, accuracy, gW, gu, h = loss_and_gradients(W, u, X, mask, last, labels, with_attention)
        if step in wanted:
            for key, value in zip(out, (np.linalg.norm(W), np.linalg.norm(u), loss, accuracy, u.copy(), h)):
                out[key].append(value)
        if step == steps:
            break
        W -= eta * gW
        u -= eta * gu
    return W, u, {key: np.array(value) for key, value in out.items()}
