r"""Numba kernel for DFIV's inner loops: whole Adam steps of a feature network on a profiled ridge loss.

Each epoch of DFIV's schedule takes ``stage1_iter`` Adam steps of the instrument net on the
profiled stage-1 loss and ``covariate_iter`` steps of the covariate net on the profiled
stage-2 loss (:mod:`theorytk.dfiv.two_stage` has the closed forms and the envelope-theorem
gradients in the features). :func:`adam_steps` runs all the steps of one such loop in one
call, each step in three parallel passes over the fixed row blocks of
:func:`~theorytk.dfiv._kernels.block_rows`, with the other threads asleep in between only
for the small serial solve:

1. per block: the network's forward pass (:func:`~theorytk.dfiv._kernels.forward_rows`), the
   ridge design and its targets side by side in ``aug`` (n, K + t), and the upper triangle of
   the block's ``aug^T aug`` in its own slot of ``grams``; then, serially, the slots summed in
   block order and the K x K ridge system :math:`(D^\top D + n\lambda I)W = D^\top T` solved (LU);
2. per block: the loss gradient in the features of each row, then the block's backward pass
   (:func:`~theorytk.dfiv._kernels.backward_rows`) into its own row of weight gradients;
3. per run of parameters: the block rows summed in order and the Adam update.

Every sum runs in block order over a partition that depends on n only, so the result is the
same on any number of threads. A network with batch-normalised layers (training mode, as in
the authors' loops) adds a parallel pass per normalised layer in each direction
(:func:`~theorytk.dfiv._kernels.forward_segments`, :func:`~theorytk.dfiv._kernels.backward_segments`).
Why one kernel instead of one Python call per step (each parallel region wakes the sleeping
threads), with the timings, is in ``benchmarks/MEASUREMENTS.md``.

The plain-NumPy twin, :func:`theorytk.dfiv.reference.adam_steps`, loops over the reference
network kernels and the closed forms of :mod:`~theorytk.dfiv.two_stage`; tests assert
equality. No validation: DFIV builds the inputs.
"""
from collections import namedtuple

import numpy as np
from numba import get_thread_id, prange

from theorytk._gemm import TILE_COLS, gram_upper
from theorytk._jit import kernel
from theorytk.dfiv._kernels import (adam_update, backward_segments, block_rows, chunk_range, final_rows,
                                   forward_segments, layer_activations, n_blocks, n_chunks, sum_blocks, top_rows,
                                   transpose_weights)
from theorytk.dfiv.two_stage import STAGE1_LOSS

RidgeLoss = namedtuple("RidgeLoss", "kind predicted targets lam")
RidgeLoss.__doc__ = r"""A profiled ridge loss of :func:`adam_steps`.

kind : ``STAGE1_LOSS`` (:math:`L_1` with targets :math:`\Psi_1` (n, k_x); ``predicted``
unused, (n, 0)) or ``OUTCOME_LOSS`` (:math:`L_2` in the covariate features, with ``predicted``
:math:`\Phi_2\hat V^\top` (n, k_x) and targets :math:`y_2` (n, 1)); lam : the stage's ridge penalty.
"""

StepWork = namedtuple("StepWork", "feature_grad aug grams")
StepWork.__doc__ = """Work arrays of :func:`adam_steps`: an (n, k) array for dL/d(features), then :func:`scratch`."""


def scratch(loss, k_features):
    """``(aug, grams)`` work arrays of :func:`adam_steps` for a :class:`RidgeLoss` and a network of ``k_features`` outputs.

    The design with its targets is rounded up to whole register tiles with zero columns,
    which add nothing to the Gram matrices but keep :func:`theorytk._gemm.gram_upper` on
    whole tiles.
    """
    n = loss.targets.shape[0]
    width = -(-sum(design_shape(loss.kind, k_features, loss.predicted.shape[1], loss.targets.shape[1])) // TILE_COLS)
    width *= TILE_COLS
    return np.zeros((n, width)), np.zeros((n_blocks(n), width, width))


@kernel
def _ridge(aug, grams, k, t, lam):
    """Sum the block Gram matrices in order; solve for the (k, t) ridge weights of the targets aug[:, k:k+t].

    A non-finite Gram matrix (diverged features) gives NaN weights, which the caller's
    divergence check reports, instead of an error from inside LAPACK.
    """
    gram = grams[0].copy()
    for blk in range(1, grams.shape[0]):
        gram += grams[blk]
    for a in range(gram.shape[0]):    # the blocks hold the upper triangle
        for b in range(a):
            gram[a, b] = gram[b, a]
    for value in gram.flat:
        if not abs(value) < np.inf:
            return np.full((k, t), np.nan)
    lhs = gram[:k, :k].copy()
    for a in range(k):
        lhs[a, a] += aug.shape[0] * lam
    return np.linalg.solve(lhs, gram[:k, k:k + t].copy())


@kernel
def _stage1_design(features, psi, aug, i0, i1):
    """``aug[i0:i1] = [F, 1, psi][i0:i1]``."""
    k = features.shape[1]
    for i in range(i0, i1):
        for c in range(k):
            aug[i, c] = features[i, c]
        aug[i, k] = 1.0
        for a in range(psi.shape[1]):
            aug[i, k + 1 + a] = psi[i, a]


@kernel
def _stage1_rows(aug, vt, grad, i0, i1):
    """``grad[i] = -(2/n) (psi_i - phi_i V^T) V[:, :k]`` with ``phi_i, psi_i`` read from ``aug``."""
    n, k = grad.shape
    kz, kx = vt.shape
    scale = -2.0 / n
    for i in range(i0, i1):
        for c in range(k):
            grad[i, c] = 0.0
        for a in range(kx):
            fitted = 0.0
            for c in range(kz):
                fitted += aug[i, c] * vt[c, a]
            res = scale * (aug[i, kz + a] - fitted)
            for c in range(k):
                grad[i, c] += res * vt[c, a]


@kernel
def _outcome_design(predicted, covariates, y, aug, i0, i1):
    """``aug[i0:i1] = [P (x) C, y][i0:i1]``, ``P = [predicted, 1]``, ``C = [covariates, 1]`` (row-wise outer product, P-major)."""
    kx = predicted.shape[1]
    kc = covariates.shape[1] + 1
    for i in range(i0, i1):
        for a in range(kx + 1):
            p = predicted[i, a] if a < kx else 1.0
            for b in range(kc - 1):
                aug[i, a * kc + b] = p * covariates[i, b]
            aug[i, a * kc + kc - 1] = p
        aug[i, (kx + 1) * kc] = y[i, 0]


@kernel
def _covariate_rows(predicted, covariates, aug, u, grad, i0, i1):
    """``grad[i, b] = -(2/n) r_i sum_a P_ia U_ab`` for the covariate columns b, with ``r = y - F u``."""
    n, kx = predicted.shape
    kw = covariates.shape[1]
    kc = kw + 1
    width = (kx + 1) * kc
    scale = -2.0 / n
    for i in range(i0, i1):
        fitted = 0.0
        for c in range(width):
            fitted += aug[i, c] * u[c, 0]
        r = scale * (aug[i, width] - fitted)
        for b in range(kw):
            s = u[kx * kc + b, 0]    # the ones column of P
            for a in range(kx):
                s += predicted[i, a] * u[a * kc + b, 0]
            grad[i, b] = r * s


@kernel
def design_shape(kind, k_features, k_predicted, k_targets):
    """``(K, t)``: design columns and targets of loss ``kind`` (the ones columns included)."""
    if kind == STAGE1_LOSS:
        return k_features + 1, k_targets
    return (k_predicted + 1) * (k_features + 1), 1


@kernel
def _design_rows(kind, features, predicted, targets, aug, i0, i1):
    """Rows ``[i0, i1)`` of the ridge design of loss ``kind`` with its targets, into ``aug``."""
    if kind == STAGE1_LOSS:
        _stage1_design(features, targets, aug, i0, i1)
    else:
        _outcome_design(predicted, features, targets, aug, i0, i1)


@kernel
def _gradient_rows(kind, features, predicted, aug, weights, grad, i0, i1):
    """Rows ``[i0, i1)`` of dL/d(features) of loss ``kind`` at the ridge ``weights``, into ``grad``."""
    if kind == STAGE1_LOSS:
        _stage1_rows(aug, weights, grad, i0, i1)
    else:
        _covariate_rows(predicted, features, aug, weights, grad, i0, i1)


@kernel(parallel=True)
def adam_steps(net, scratch, state, hyper, t, iters, loss, work):
    r"""``iters`` full-batch Adam steps of a feature network on a profiled ridge loss, in place.

    Normalised layers run in training mode (batch statistics; the running ones updated at
    every step, as PyTorch's ``BatchNorm1d`` in ``train()`` mode).

    Parameters
    ----------
    net : theorytk.dfiv._kernels.Network
    scratch : theorytk.dfiv._kernels.BackwardScratch
        :func:`theorytk.dfiv._kernels.backward_scratch` for the network and n rows.
    state : theorytk.dfiv._kernels.AdamState
        The gradient (left holding the last step's) and Adam's moments.
    hyper : theorytk.dfiv._kernels.AdamHyper
    t : int
        Adam steps taken so far (the bias corrections continue from it).
    iters : int
    loss : RidgeLoss
    work : StepWork
    """
    n = net.x.shape[0]
    blocks = n_blocks(n)
    sizes = net.sizes
    features = layer_activations(net.acts, sizes, n, sizes.size - 1)
    k, columns = design_shape(loss.kind, features.shape[1], loss.predicted.shape[1], loss.targets.shape[1])
    grad = state.grad
    for step in range(iters):
        first = forward_segments(net)
        for blk in prange(blocks):
            i0, i1 = block_rows(n, blk)
            final_rows(net, first, i0, i1, True)
            _design_rows(loss.kind, features, loss.predicted, loss.targets, work.aug, i0, i1)
            gram_upper(work.aug, work.grams[blk], i0, i1)
        weights = _ridge(work.aug, work.grams, k, columns, loss.lam)
        transpose_weights(net.params, sizes, scratch.weights_t)
        for blk in prange(blocks):
            i0, i1 = block_rows(n, blk)
            _gradient_rows(loss.kind, features, loss.predicted, work.aug, weights, work.feature_grad, i0, i1)
            top_rows(net, scratch, work.feature_grad, scratch.partial[blk], scratch.deltas[get_thread_id()], i0, i1)
        backward_segments(net, scratch)
        for chunk in prange(n_chunks(grad.size)):
            k0, k1 = chunk_range(grad.size, chunk)
            sum_blocks(scratch.partial, grad, k0, k1)
            adam_update(net.params, state, hyper, t + step + 1, k0, k1)
