"""Numba kernels for projected gradient descent of the mini-batch contrastive loss.

One restart holds ``U = X[r, 0]`` and ``V = X[r, 1]`` (unit rows, shape ``(N, d)``). A step:

    S      = U V^T / tau                                  (N x N logits, once per step)
    for each batch (rows i_1..i_B):
        row softmax p over the batch's columns, column softmax q over its rows;
        loss += sum_a (lse_a - s_{i_a i_a}) (+ the column term)
        W[i_a, i_c] += (p_ac - delta_ac) (+ q_ca - delta_ca)
    W     *= 1 / (m B);   grad_U = W V / tau,  grad_V = W^T U / tau
    x_i   <- normalise(x_i - lr (g_i - (g_i . x_i) x_i))

The step is stopped once the norm of the projected gradient (measured before the step) is
``<= tol``. Restarts are independent and run in parallel (``prange``); within a restart
every sum has a fixed order, so the numbers do not depend on the thread count. The NumPy
twin is :func:`theorytk.contrastive.reference.minimise`.
"""
import numpy as np
from numba import prange

from theorytk._jit import kernel


@kernel(inline="always")
def _batch_terms(S, batch, W, symmetric, logits):
    """Add one batch's loss terms (returned) and softmax coefficients (into ``W``)."""
    B = batch.shape[0]
    total = 0.0
    for direction in range(2 if symmetric else 1):
        for a in range(B):
            top = -np.inf
            for c in range(B):
                if direction == 0:
                    logits[c] = S[batch[a], batch[c]]
                else:
                    logits[c] = S[batch[c], batch[a]]
                top = max(top, logits[c])
            z = 0.0
            for c in range(B):
                logits[c] = np.exp(logits[c] - top)
                z += logits[c]
            total += top + np.log(z) - S[batch[a], batch[a]]
            for c in range(B):
                coef = logits[c] / z - (1.0 if c == a else 0.0)
                if direction == 0:
                    W[batch[a], batch[c]] += coef
                else:
                    W[batch[c], batch[a]] += coef
    return total


@kernel(inline="always")
def _loss_and_gradient(U, V, batches, tau, symmetric, S, W, gU, gV, logits):
    """Objective (returned) and Euclidean gradient (into ``gU``, ``gV``); ``S``, ``W`` are scratch."""
    N, d = U.shape
    m = batches.shape[0]
    for i in range(N):
        for j in range(N):
            acc = 0.0
            for k in range(d):
                acc += U[i, k] * V[j, k]
            S[i, j] = acc / tau
            W[i, j] = 0.0
    loss = 0.0
    for b in range(m):
        loss += _batch_terms(S, batches[b], W, symmetric, logits)
    scale = 1.0 / (m * batches.shape[1])
    for i in range(N):
        for k in range(d):
            acc_u = 0.0
            acc_v = 0.0
            for j in range(N):
                acc_u += W[i, j] * V[j, k]
                acc_v += W[j, i] * U[j, k]
            gU[i, k] = acc_u * scale / tau
            gV[i, k] = acc_v * scale / tau
    return loss * scale


@kernel(inline="always")
def _project(X, G):
    """``G`` projected row-wise on the spheres' tangent spaces at ``X`` (in place); returns its squared norm."""
    N, d = X.shape
    total = 0.0
    for i in range(N):
        dot = 0.0
        for k in range(d):
            dot += G[i, k] * X[i, k]
        for k in range(d):
            G[i, k] -= dot * X[i, k]
            total += G[i, k] * G[i, k]
    return total


@kernel(inline="always")
def _retract(X, G, lr):
    """``x_i <- (x_i - lr g_i) / ||x_i - lr g_i||`` for every row (in place)."""
    N, d = X.shape
    for i in range(N):
        norm = 0.0
        for k in range(d):
            X[i, k] -= lr * G[i, k]
            norm += X[i, k] * X[i, k]
        norm = np.sqrt(norm)
        for k in range(d):
            X[i, k] /= norm


@kernel(parallel=True)
def minimise(X, batches, tau, symmetric, lr, tol, max_steps, loss, gnorm, steps):
    """Run every restart ``X[r]`` (in place) to ``tol`` or ``max_steps``; fill ``loss``, ``gnorm``, ``steps``."""
    R, _, N, d = X.shape
    B = batches.shape[1]
    for r in prange(R):
        U = X[r, 0]
        V = X[r, 1]
        S = np.empty((N, N))
        W = np.empty((N, N))
        gU = np.empty((N, d))
        gV = np.empty((N, d))
        logits = np.empty(B)
        step = 0
        while True:
            value = _loss_and_gradient(U, V, batches, tau, symmetric, S, W, gU, gV, logits)
            norm = np.sqrt(_project(U, gU) + _project(V, gV))
            if norm <= tol or step == max_steps:
                break
            _retract(U, gU, lr)
            _retract(V, gV, lr)
            step += 1
        loss[r] = value
        gnorm[r] = norm
        steps[r] = step


@kernel
def loss_and_gradient(U, V, batches, tau, symmetric):
    """Objective and Euclidean gradient at one point (for the tests and the public ``loss``)."""
    N, d = U.shape
    S = np.empty((N, N))
    W = np.empty((N, N))
    gU = np.empty((N, d))
    gV = np.empty((N, d))
    value = _loss_and_gradient(U, V, batches, tau, symmetric, S, W, gU, gV, np.empty(batches.shape[1]))
    return value, gU, gV
