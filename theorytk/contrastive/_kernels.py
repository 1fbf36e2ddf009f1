"""Numba kernels for projected gradient descent of the mini-batch contrastive loss.

One restart holds ``U = X[r, 0]`` and ``V = X[r, 1]`` (unit rows, shape ``(N, d)``). A step:

    S      = U V^T / tau                                  (N x N logits, once per step)
    Erow   = exp(S - row max), Ecol = exp(S - column max) (2 N^2 exponentials, once per step)
    for each batch (rows i_1..i_B):
        row softmax p_ac = Erow[i_a, i_c] / sum_c Erow[i_a, i_c], column softmax q likewise from Ecol;
        W[i_a, i_c] += (p_ac - delta_ac) (+ q_ca - delta_ca)
    grad_U = W V / (m B tau),  grad_V = W^T U / (m B tau)
    x_i   <- normalise(x_i - lr (g_i - (g_i . x_i) x_i))

Every batch reads the same two exponential tables, so a step costs 2 N^2 exponentials instead
of 2 m B^2 (m = 252, B = 5: 200 instead of 12600), and the logarithms of the loss are taken
only once, at the end. A softmax shifted by the row (column) maximum instead of the batch's
is the same number; since |s_ij| <= 1/tau, the shifted exponentials are >= exp(-2/tau),
representable for tau >= 0.01 (the public functions' lower limit, :data:`TAU_MIN`).

The step is stopped once the norm of the projected gradient (measured before the step) is
``<= tol``. Restarts are independent and run in parallel (``prange``); within a restart
every sum has a fixed order, so the numbers do not depend on the thread count. The NumPy
twin is :func:`theorytk.contrastive.reference.minimise`.
"""
import numpy as np
from numba import prange

from theorytk._jit import kernel

#: Smallest temperature the exponential tables represent without underflow (exp(-2/tau) > 1e-87).
TAU_MIN = 0.01


@kernel(inline="always")
def _exp_tables(U, V, tau, S, Erow, Ecol, rowmax, colmax):
    """Logits ``S = U V^T / tau`` and ``exp(S - max)`` shifted by each row's (``Erow``) and each column's (``Ecol``) maximum."""
    N, d = U.shape
    for i in range(N):
        for j in range(N):
            acc = 0.0
            for k in range(d):
                acc += U[i, k] * V[j, k]
            S[i, j] = acc / tau
    for i in range(N):
        rowmax[i] = -np.inf
        colmax[i] = -np.inf
    for i in range(N):
        for j in range(N):
            rowmax[i] = max(rowmax[i], S[i, j])
            colmax[j] = max(colmax[j], S[i, j])
    for i in range(N):
        for j in range(N):
            Erow[i, j] = np.exp(S[i, j] - rowmax[i])
            Ecol[i, j] = np.exp(S[i, j] - colmax[j])


@kernel(inline="always")
def _batch_coefficients(Erow, Ecol, batch, W, symmetric):
    """Add one batch's softmax coefficients ``p_ac - delta_ac`` (and the column term) into ``W``."""
    B = batch.shape[0]
    for a in range(B):
        i = batch[a]
        z = 0.0
        for c in range(B):
            z += Erow[i, batch[c]]
        for c in range(B):
            W[i, batch[c]] += Erow[i, batch[c]] / z
        W[i, i] -= 1.0
    if symmetric:
        for a in range(B):
            j = batch[a]
            z = 0.0
            for c in range(B):
                z += Ecol[batch[c], j]
            for c in range(B):
                W[batch[c], j] += Ecol[batch[c], j] / z
            W[j, j] -= 1.0


@kernel(inline="always")
def _batch_loss(S, Erow, Ecol, rowmax, colmax, batch, symmetric):
    """One batch's summed terms ``logsumexp_c s_{i_a i_c} - s_{i_a i_a}`` (and the column terms)."""
    B = batch.shape[0]
    total = 0.0
    for a in range(B):
        i = batch[a]
        z = 0.0
        w = 0.0
        for c in range(B):
            z += Erow[i, batch[c]]
            w += Ecol[batch[c], i]
        total += rowmax[i] + np.log(z) - S[i, i]
        if symmetric:
            total += colmax[i] + np.log(w) - S[i, i]
    return total


@kernel(inline="always")
def _gradient(U, V, batches, tau, symmetric, T, gU, gV):
    """Euclidean gradient (into ``gU``, ``gV``); ``T`` holds the scratch tables and vectors."""
    S, Erow, Ecol, W, rowmax, colmax = T
    N, d = U.shape
    _exp_tables(U, V, tau, S, Erow, Ecol, rowmax, colmax)
    for i in range(N):
        for j in range(N):
            W[i, j] = 0.0
    m = batches.shape[0]
    for b in range(m):
        _batch_coefficients(Erow, Ecol, batches[b], W, symmetric)
    scale = 1.0 / (m * batches.shape[1] * tau)
    for i in range(N):
        for k in range(d):
            acc_u = 0.0
            acc_v = 0.0
            for j in range(N):
                acc_u += W[i, j] * V[j, k]
                acc_v += W[j, i] * U[j, k]
            gU[i, k] = acc_u * scale
            gV[i, k] = acc_v * scale


@kernel(inline="always")
def _objective(batches, symmetric, T):
    """The objective from the tables of the last :func:`_gradient` call."""
    S, Erow, Ecol, W, rowmax, colmax = T
    total = 0.0
    for b in range(batches.shape[0]):
        total += _batch_loss(S, Erow, Ecol, rowmax, colmax, batches[b], symmetric)
    return total / (batches.shape[0] * batches.shape[1])


@kernel(inline="always")
def _scratch(N):
    return (np.empty((N, N)), np.empty((N, N)), np.empty((N, N)), np.empty((N, N)), np.empty(N), np.empty(N))


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
    for r in prange(R):
        U = X[r, 0]
        V = X[r, 1]
        T = _scratch(N)
        gU = np.empty((N, d))
        gV = np.empty((N, d))
        step = 0
        while True:
            _gradient(U, V, batches, tau, symmetric, T, gU, gV)
            norm = np.sqrt(_project(U, gU) + _project(V, gV))
            if norm <= tol or step == max_steps:
                break
            _retract(U, gU, lr)
            _retract(V, gV, lr)
            step += 1
        loss[r] = _objective(batches, symmetric, T)
        gnorm[r] = norm
        steps[r] = step


@kernel
def loss_and_gradient(U, V, batches, tau, symmetric):
    """Objective and Euclidean gradient at one point (for the tests and the public ``loss``)."""
    N, d = U.shape
    T = _scratch(N)
    gU = np.empty((N, d))
    gV = np.empty((N, d))
    _gradient(U, V, batches, tau, symmetric, T, gU, gV)
    return _objective(batches, symmetric, T), gU, gV
