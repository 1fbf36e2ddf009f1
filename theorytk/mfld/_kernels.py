"""Numba kernels for N-particle noisy gradient descent of a mean-field two-layer network.

One step, for every replica independently (x_i = (w_i, b_i), h_ij = act(w_i . z_j + b_i)):

    f_j      = (1/N) sum_i h_ij
    g_j      = loss'(f_j, y_j) / n
    grad_i   = sum_j g_j act'(.)_ij (z_j, 1) + 2 lam_l2 x_i
    x_i     <- x_i - eta grad_i + sqrt(2 lam eta) xi_i

Both halves of a step are small matrix products with the inputs extended by a row of ones,
``Zp = [Zt; 1]`` of shape ``(d+1, NP)`` (the bias is the weight of that row), its ``n``
columns padded with zeros to ``NP``, a multiple of :data:`theorytk._gemm.TILE_COLS`: the
forward pass is ``H = X Zp`` (:func:`theorytk._gemm.gemm_nn`) and the backward pass
``G = S Zp^T`` with ``S_ij = act'(.)_ij g_j`` (:func:`theorytk._gemm.gemm_nt`). Both are
the register-tiled products of :mod:`theorytk._gemm`, which sum in a fixed order.

The particles of a replica are processed in fixed blocks of ``BLOCK`` rows. One step
(:func:`_step`, the body that both drivers inline) runs two loops over the blocks: pass 1
(:func:`_forward_block`) computes the block's activations into its rows of ``H`` and their
column sums into the block's ``partial`` row; the partials are added in block order to give
``f``. Pass 2 (:func:`_update_block`) overwrites the block's rows of ``H`` with ``S``,
reduces them against ``Zp`` and applies the update with the given noise. The loops over
blocks are ``prange`` loops: :func:`advance_blocks` runs them in parallel, while inside the
``prange`` over replicas of :func:`advance_replicas` numba runs them as plain loops (an inner
``prange`` is serialised). Every sum has a fixed order (the tiles use the explicit vectors of
:mod:`theorytk._vecmath`, whose operations carry no fast-math flags), so the two drivers give
bit-identical numbers on any thread count.

Codes: activation 0 = tanh, 1 = identity; loss 0 = squared (1/2)(f - y)^2, 1 = logistic
log(1 + exp(-y f)).
"""
import numpy as np
from numba import prange

from theorytk._gemm import PLAIN, TILE_COLS, gemm_nn, gemm_nt
from theorytk._jit import kernel
from theorytk._vecmath import tanh_inplace

BLOCK = 24
"""Particles per block: a multiple of both tile heights (``theorytk._gemm.TILE_ROWS`` = 6 of the forward
product, ``NT_ROWS`` = 4 of the backward one), so that no tile of a full block is a partial one."""
TANH, IDENTITY = 0, 1
SQUARED, LOGISTIC = 0, 1


@kernel
def _padded_inputs(Zt):
    """``Zp`` of shape ``(d+1, NP)``: ``Zt``, then a row of ones, over the ``n`` real columns; zeros after them."""
    d, n = Zt.shape
    Zp = np.zeros((d + 1, (n + TILE_COLS - 1) // TILE_COLS * TILE_COLS))
    Zp[:d, :n] = Zt
    Zp[d, :n] = 1.0
    return Zp


@kernel(inline="always")
def _forward_block(X, Zp, act, zeros, H, i0, i1, partial):
    """Activations of particles ``i0:i1`` into ``H[i0:i1]``; their column sums into ``partial``.

    ``zeros`` is a zero bias of ``Zp``'s width (:func:`theorytk._gemm.gemm_nn` adds a bias).
    """
    m = Zp.shape[1]
    gemm_nn(X, Zp, zeros, H, i0, i1, PLAIN, H)
    if act == TANH:
        tanh_inplace(H[i0:i1].reshape((i1 - i0) * m))
    for j in range(m):
        partial[j] = 0.0
    for i in range(i0, i1):
        for j in range(m):
            partial[j] += H[i, j]


@kernel(inline="always")
def _loss_slope(f, y, loss, out):
    """``out_j = loss'(f_j, y_j) / n`` for the ``n`` real columns; the padding of ``out`` stays zero."""
    n = y.shape[0]
    for j in range(n):
        if loss == SQUARED:
            out[j] = (f[j] - y[j]) / n
        else:
            out[j] = -y[j] / (1.0 + np.exp(y[j] * f[j])) / n


@kernel(inline="always")
def _update_block(X, Zp, act, H, slope, lam_l2, eta, sigma, noise, threshold, i0, i1, G):
    """Noisy gradient step of particles ``i0:i1``; their gradients go to ``G[i0:i1]`` (scratch).

    Returns the number of coordinates that are NaN or exceed ``threshold`` in absolute
    value after the step.
    """
    m = Zp.shape[1]
    for i in range(i0, i1):
        row = H[i]
        if act == TANH:
            for j in range(m):
                row[j] = (1.0 - row[j] * row[j]) * slope[j]
        else:
            for j in range(m):
                row[j] = slope[j]
    gemm_nt(H, Zp, G, i0, i1)
    n_bad = 0
    for i in range(i0, i1):
        for k in range(X.shape[1]):
            xk = X[i, k]
            xk = xk - eta * (G[i, k] + 2.0 * lam_l2 * xk) + sigma * noise[i, k]
            X[i, k] = xk
            if not abs(xk) <= threshold:  # true for NaN too
                n_bad += 1
    return n_bad


@kernel(fastmath=False)
def _mean_square_norm(X):
    """``(1/N) sum_i |x_i|^2`` summed in index order (strict IEEE: no reassociation, so every
    driver and thread count gives the same bits)."""
    total = 0.0
    for i in range(X.shape[0]):
        for k in range(X.shape[1]):
            total += X[i, k] * X[i, k]
    return total / X.shape[0]


@kernel(inline="always")
def _record(step, record_every, f, X, out_f, out_sq):
    """Store ``f`` and the mean squared norm of the particles ``X`` (before the step) at record steps."""
    if step % record_every == 0:
        slot = step // record_every
        for j in range(out_f.shape[1]):
            out_f[slot, j] = f[j]
        out_sq[slot] = _mean_square_norm(X)


@kernel(inline="always")
def _step(X, Zp, y, act, loss, lam_l2, eta, sigma, noise, threshold, step, record_every, out_f, out_sq, work):
    """One step of one replica ``X (N, d+1)`` with ``noise (N, d+1)``; True if some coordinate went bad.

    ``work = (zeros, H, partial, G, bad, f, slope)`` from :func:`_workspace`. The two loops
    over blocks are ``prange``: parallel in :func:`advance_blocks`, serial (nested) in
    :func:`advance_replicas`; the order of every sum is the same either way.
    """
    zeros, H, partial, G, bad, f, slope = work
    N = X.shape[0]
    nblk, m = partial.shape
    for b in prange(nblk):
        _forward_block(X, Zp, act, zeros, H, b * BLOCK, min(N, (b + 1) * BLOCK), partial[b])
    for j in range(m):
        f[j] = 0.0
    for b in range(nblk):
        for j in range(m):
            f[j] += partial[b, j]
    for j in range(m):
        f[j] /= N
    _loss_slope(f, y, loss, slope)
    _record(step, record_every, f, X, out_f, out_sq)
    for b in prange(nblk):
        bad[b] = _update_block(X, Zp, act, H, slope, lam_l2, eta, sigma, noise, threshold,
                               b * BLOCK, min(N, (b + 1) * BLOCK), G)
    for b in range(nblk):
        if bad[b] > 0:
            return True
    return False


@kernel
def _workspace(N, Zp):
    """Scratch of :func:`_step` for one replica of ``N`` particles: ``(zeros, H, partial, G, bad, f, slope)``."""
    d1, m = Zp.shape
    nblk = (N + BLOCK - 1) // BLOCK
    return (np.zeros(m), np.empty((N, m)), np.empty((nblk, m)), np.empty((N, d1)),
            np.empty(nblk, dtype=np.int64), np.empty(m), np.zeros(m))


@kernel(parallel=True)
def advance_replicas(X, Zt, y, act, loss, lam, lam_l2, eta, noise, step0, record_every,
                     threshold, out_f, out_sq, status):
    """Advance every replica ``noise.shape[1]`` steps, replicas in parallel.

    Parameters
    ----------
    X : (R, N, d+1) float64, updated in place.
    Zt : (d, n) inputs, transposed. y : (n,) targets.
    noise : (R, K, N, d+1) standard normals for the K steps of this chunk.
    step0 : global index of the first step of the chunk.
    out_f : (R, S, n), out_sq : (R, S) records of f_X(z_j) and mean |x_i|^2, taken before
        the update of every step that is a multiple of ``record_every``.
    status : (R,) int64; -1 while healthy, else the global step at which some |x| exceeded
        ``threshold`` or became NaN (the replica then stops).
    """
    Zp = _padded_inputs(Zt)
    sigma = np.sqrt(2.0 * lam * eta)
    for r in prange(X.shape[0]):
        if status[r] >= 0:
            continue
        work = _workspace(X.shape[1], Zp)
        for s in range(noise.shape[1]):
            if _step(X[r], Zp, y, act, loss, lam_l2, eta, sigma, noise[r, s], threshold, step0 + s, record_every,
                     out_f[r], out_sq[r], work):
                status[r] = step0 + s
                break


@kernel(parallel=True)
def advance_blocks(X, Zt, y, act, loss, lam, lam_l2, eta, noise, step0, record_every,
                   threshold, out_f, out_sq, status):
    """Same contract and same numbers as :func:`advance_replicas`, blocks of particles in parallel.

    Used when there are fewer replicas than threads (e.g. one large network).
    """
    Zp = _padded_inputs(Zt)
    sigma = np.sqrt(2.0 * lam * eta)
    work = _workspace(X.shape[1], Zp)
    for r in range(X.shape[0]):
        if status[r] >= 0:
            continue
        for s in range(noise.shape[1]):
            if _step(X[r], Zp, y, act, loss, lam_l2, eta, sigma, noise[r, s], threshold, step0 + s, record_every,
                     out_f[r], out_sq[r], work):
                status[r] = step0 + s
                break
