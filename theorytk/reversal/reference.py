r"""Plain-NumPy twins of :mod:`theorytk.reversal._kernels`, and the model in :math:`\Theta`.

:func:`logit_matrix` and :func:`gd` are the kernel's computations with matrix products (the
executable specification; tests assert kernel == reference to ~1e-12). :func:`loss_and_gradient`
and :func:`theta` state the model directly in :math:`\Theta` (``d x d``): the mean
cross-entropy :math:`L(\Theta) = \frac1N \sum_n [\log \sum_j e^{z_j(x_n)} - z_{y_n}(x_n)]`,
:math:`z_y(x) = e_y^\top \Theta e_x`, and its gradient :math:`\frac1N E^\top (P - Y) X^\top`
(symmetrised for the tied model), so tests can check the coefficient form against it and against
finite differences.
"""
import numpy as np

from theorytk.reversal._kernels import BLOWUP


def logit_matrix(K, inputs, W, symmetric, queries):
    """Logits ``Z[j, c] = z_j(queries[c])`` from the Gram matrix ``K`` and the coefficients ``W``."""
    Z = K @ W @ K[np.ix_(inputs, queries)]
    if symmetric:
        Z = 0.5 * (Z + K[:, inputs] @ (W.T @ K[:, queries]))
    return Z


def softmax_residual(Z, targets):
    """``(loss, R)``: mean cross-entropy of the columns of ``Z`` and ``R = softmax(Z) - onehot``."""
    shifted = Z - Z.max(axis=0)
    expz = np.exp(shifted)
    total = expz.sum(axis=0)
    cols = np.arange(Z.shape[1])
    loss = float(np.mean(np.log(total) - shifted[targets, cols]))
    R = expz / total
    R[targets, cols] -= 1.0
    return loss, R


def gd(K, inputs, targets, W, lr, steps, until_loss, symmetric, record, probes):
    """The kernel's GD in NumPy: ``(W, loss, logits, recorded steps)`` (same stopping and recording rule)."""
    W = W.copy()
    N = W.shape[1]
    losses, snapshots, recorded = [], [], []
    due = list(record)
    t = 0
    while True:
        loss, R = softmax_residual(logit_matrix(K, inputs, W, symmetric, inputs), targets)
        losses.append(loss)
        done = not abs(loss) <= BLOWUP or loss <= until_loss or t == steps
        is_due = bool(due) and due[0] == t
        if is_due:
            due.pop(0)
        if is_due or done:
            snapshots.append(logit_matrix(K, inputs, W, symmetric, probes).T)
            recorded.append(t)
        if done:
            return W, np.array(losses), np.array(snapshots), np.array(recorded, dtype=np.int64)
        W -= lr / N * R
        t += 1


def theta(E, inputs, W, symmetric):
    r""":math:`\Theta = E^\top W X^\top` (tied: its symmetric part), shape ``d x d``."""
    T = E.T @ W @ E[inputs]
    return 0.5 * (T + T.T) if symmetric else T


def loss_and_gradient(Theta, E, inputs, targets, symmetric=False):
    r"""Mean cross-entropy of :math:`\Theta` on the pairs and its gradient (symmetrised if tied)."""
    Z = E @ Theta @ E[inputs].T
    loss, R = softmax_residual(Z, targets)
    G = E.T @ R @ E[inputs] / len(inputs)
    return loss, (0.5 * (G + G.T) if symmetric else G)
