"""Plain-NumPy specification of :mod:`theorytk.contrastive._kernels`.

Vectorised over the batches; the tests assert that the kernels agree with these functions
to 1e-12 (summation order only) and the benchmark reports their speed ratio. Notation as in
:mod:`theorytk.contrastive.loss`: rows ``u_i``, ``v_i`` of ``U, V`` (shape ``(N, d)``),
logits :math:`s_{ij} = u_i \\cdot v_j / \\tau`, a batch list ``batches`` of shape ``(m, B)``.
"""
import numpy as np


def _log_softmax(x):
    """``log softmax`` along the last axis (max-shifted)."""
    top = x.max(axis=-1, keepdims=True)
    shifted = x - top
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def loss_and_gradient(U, V, batches, tau=1.0, symmetric=True):
    """Mini-batch objective and its Euclidean gradient in ``(U, V)``.

    .. math::

        L = \\frac1m \\sum_{S} \\frac1B \\sum_{i \\in S} \\Big[-\\log \\frac{e^{s_{ii}}}{\\sum_{j \\in S} e^{s_{ij}}}
            - \\log \\frac{e^{s_{ii}}}{\\sum_{j \\in S} e^{s_{ji}}}\\Big],
        \\qquad \\nabla_U L = W V / \\tau, \\quad \\nabla_V L = W^\\top U / \\tau,

    with :math:`W = \\frac{1}{mB}\\sum_S [(P_S - I) + (Q_S - I)^\\top]` scattered onto the
    batch's rows and columns (``P_S`` row softmax, ``Q_S`` column softmax of the batch's
    logits, transposed). ``symmetric=False`` keeps the first (u-to-v) term only.

    Returns
    -------
    loss : float
    grad_U, grad_V : ndarray, shape (N, d)
    """
    m, B = batches.shape
    S = U @ V.T / tau
    block = S[batches[:, :, None], batches[:, None, :]]          # (m, B, B), block[b, a, c] = s_{i_a i_c}
    eye = np.eye(B)
    log_p = _log_softmax(block)
    loss = -np.trace(log_p, axis1=1, axis2=2).sum()
    coef = np.exp(log_p) - eye
    if symmetric:
        log_q = _log_softmax(np.swapaxes(block, 1, 2))             # [b, c, a]: softmax over rows a of column c
        loss -= np.trace(log_q, axis1=1, axis2=2).sum()
        coef = coef + np.swapaxes(np.exp(log_q) - eye, 1, 2)
    W = np.zeros_like(S)
    np.add.at(W, (batches[:, :, None], batches[:, None, :]), coef)
    scale = 1.0 / (m * B)
    W *= scale
    return loss * scale, W @ V / tau, W.T @ U / tau


def batch_losses(U, V, batches, tau=1.0, symmetric=True):
    """The loss :math:`\\ell_S` of every batch of the list, shape (m,)."""
    S = U @ V.T / tau
    block = S[batches[:, :, None], batches[:, None, :]]
    out = -np.trace(_log_softmax(block), axis1=1, axis2=2)
    if symmetric:
        out -= np.trace(_log_softmax(np.swapaxes(block, 1, 2)), axis1=1, axis2=2)
    return out / batches.shape[1]


def tangent(X, G):
    """Project each row of ``G`` on the tangent space of the unit sphere at the row of ``X``."""
    return G - np.sum(G * X, axis=-1, keepdims=True) * X


def riemannian_gradient_norm(U, V, batches, tau=1.0, symmetric=True):
    """Frobenius norm of the projected gradient: zero exactly at the stationary points on the spheres."""
    _, gU, gV = loss_and_gradient(U, V, batches, tau, symmetric)
    return float(np.sqrt(np.sum(tangent(U, gU) ** 2) + np.sum(tangent(V, gV) ** 2)))


def normalise_rows(X):
    """Rows scaled to unit Euclidean norm."""
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def minimise(X0, batches, tau, symmetric, lr, tol, max_steps):
    """Projected gradient descent on the product of spheres, one restart at a time.

    Step: :math:`x_i \\leftarrow (x_i - \\eta\\, \\Pi_{x_i} g_i)/\\|\\cdot\\|`, stopped as soon as
    the projected gradient norm is ``<= tol`` (measured before the step) or after
    ``max_steps`` steps.

    Parameters
    ----------
    X0 : ndarray, shape (R, 2, N, d)
        Unit-row starting points (``X0[r, 0] = U``, ``X0[r, 1] = V``).

    Returns
    -------
    X : ndarray, shape (R, 2, N, d)
    loss, gradient_norm : ndarray, shape (R,)
    steps : ndarray of int64, shape (R,)
    """
    R = X0.shape[0]
    X = X0.copy()
    loss, gnorm, steps = np.empty(R), np.empty(R), np.zeros(R, dtype=np.int64)
    for r in range(R):
        U, V = X[r, 0], X[r, 1]
        for step in range(max_steps + 1):
            value, gU, gV = loss_and_gradient(U, V, batches, tau, symmetric)
            tU, tV = tangent(U, gU), tangent(V, gV)
            norm = np.sqrt(np.sum(tU**2) + np.sum(tV**2))
            if norm <= tol or step == max_steps:
                break
            U = normalise_rows(U - lr * tU)
            V = normalise_rows(V - lr * tV)
        X[r, 0], X[r, 1] = U, V
        loss[r], gnorm[r], steps[r] = value, norm, step
    return X, loss, gnorm, steps
