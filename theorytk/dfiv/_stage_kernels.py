r"""Numba kernels for the per-step loss gradients of DFIV's alternating schedule.

Each Adam step on the instrument net (stage 1) or on the covariate net needs the gradient of
a profiled ridge loss in the network's features, with the other stage held fixed
(:mod:`theorytk.dfiv.two_stage` has the closed forms and the envelope-theorem derivation).
Both are the same three passes over the rows:

1. over the fixed row blocks of :func:`~theorytk.dfiv._kernels.block_rows` in parallel,
   write the ridge design and its targets side by side into ``aug`` (n, K + t) and the upper
   triangle of the block's ``aug^T aug`` into its own slot of ``partial``; then sum the slots
   in block order (so the result does not depend on the thread count);
2. solve the K x K ridge system :math:`(D^\top D + n\lambda I)W = D^\top T` (LU);
3. write the gradient of every row, in parallel.

The plain-NumPy twins, :func:`theorytk.dfiv.reference.stage1_feature_gradient` and
:func:`~theorytk.dfiv.reference.covariate_feature_gradient`, compose the production closed
forms of :mod:`~theorytk.dfiv.two_stage`; tests assert equality. Inside a demand-design fit
here (n = 2500 per stage) a step's gradient takes about 0.45-0.5 ms fused against 0.8-0.95 ms
on the NumPy path, which allocates and page-faults its n x K temporaries.

No validation: DFIV builds the inputs.
"""
import numpy as np
from numba import prange

from theorytk._gemm import TILE_COLS, gram_upper
from theorytk._jit import kernel
from theorytk.dfiv._kernels import block_rows, n_blocks


def scratch(n, columns):
    """``(aug, partial)`` work arrays for n rows and a design with its targets of ``columns`` columns.

    The width is rounded up to whole register tiles with zero columns, which add nothing to
    the Gram matrices but keep :func:`theorytk._gemm.gram_upper` on whole tiles.
    """
    width = -(-columns // TILE_COLS) * TILE_COLS
    return np.zeros((n, width)), np.zeros((n_blocks(n), width, width))


@kernel
def _ridge(aug, partial, k, t, lam):
    """Sum the block Gram matrices in order; solve for the (k, t) ridge weights of the targets aug[:, k:k+t].

    A non-finite Gram matrix (diverged features) gives NaN weights, which the caller's
    divergence check reports, instead of an error from inside LAPACK.
    """
    gram = partial[0].copy()
    for blk in range(1, partial.shape[0]):
        gram += partial[blk]
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


@kernel(parallel=True)
def _stage1_grams(features, psi, aug, partial):
    """Each block writes its rows of the design and its Gram matrix (one parallel region)."""
    n = aug.shape[0]
    for blk in prange(partial.shape[0]):
        i0, i1 = block_rows(n, blk)
        _stage1_design(features, psi, aug, i0, i1)
        gram_upper(aug, partial[blk], i0, i1)


@kernel(parallel=True)
def _stage1_rows(aug, vt, grad):
    """``grad[i] = -(2/n) (psi_i - phi_i V^T) V[:, :k]`` with ``phi_i, psi_i`` read from ``aug``."""
    n, k = grad.shape
    kz, kx = vt.shape
    scale = -2.0 / n
    for i in prange(n):
        for c in range(k):
            grad[i, c] = 0.0
        for a in range(kx):
            fitted = 0.0
            for c in range(kz):
                fitted += aug[i, c] * vt[c, a]
            res = scale * (aug[i, kz + a] - fitted)
            for c in range(k):
                grad[i, c] += res * vt[c, a]


def stage1_feature_gradient(features, psi, lam, grad, work):
    r"""dL1/dF: the stage-1 gradient in the instrument features F (without their ones column), into ``grad``.

    :math:`\Phi = [F, 1]`, :math:`\hat V^\top = (\Phi^\top\Phi + n\lambda I)^{-1}\Phi^\top\Psi`,
    :math:`\partial L_1/\partial\Phi = -\frac2n(\Psi - \Phi\hat V^\top)\hat V`, first k columns.
    ``work`` is :func:`scratch` ``(n, k + 1 + k_x)``.
    """
    aug, partial = work
    _stage1_grams(features, psi, aug, partial)
    _stage1_rows(aug, _ridge(aug, partial, features.shape[1] + 1, psi.shape[1], lam), grad)


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
        aug[i, (kx + 1) * kc] = y[i]


@kernel(parallel=True)
def _outcome_grams(predicted, covariates, y, aug, partial):
    """Each block writes its rows of the stage-2 design and its Gram matrix (one parallel region)."""
    n = aug.shape[0]
    for blk in prange(partial.shape[0]):
        i0, i1 = block_rows(n, blk)
        _outcome_design(predicted, covariates, y, aug, i0, i1)
        gram_upper(aug, partial[blk], i0, i1)


@kernel(parallel=True)
def _covariate_rows(predicted, covariates, aug, u, grad):
    """``grad[i, b] = -(2/n) r_i sum_a P_ia U_ab`` for the covariate columns b, with ``r = y - F u``."""
    n, kx = predicted.shape
    kw = covariates.shape[1]
    kc = kw + 1
    width = (kx + 1) * kc
    scale = -2.0 / n
    for i in prange(n):
        fitted = 0.0
        for c in range(width):
            fitted += aug[i, c] * u[c, 0]
        r = scale * (aug[i, width] - fitted)
        for b in range(kw):
            s = u[kx * kc + b, 0]    # the ones column of P
            for a in range(kx):
                s += predicted[i, a] * u[a * kc + b, 0]
            grad[i, b] = r * s


def covariate_feature_gradient(predicted, y, lam, covariates, grad, work):
    r"""dL2/dXi: the stage-2 gradient in the covariate features Xi (without their ones column), into ``grad``.

    With :math:`P = [\Phi_2\hat V^\top, 1]` (``predicted`` without its ones), :math:`C = [\Xi, 1]`,
    :math:`F = P \otimes C` row-wise, :math:`\hat u = (F^\top F + m\lambda I)^{-1}F^\top y`,
    :math:`r = y - F\hat u`: :math:`\partial L_2/\partial C = -\frac2m\,\mathrm{diag}(r)PU`.
    ``work`` is :func:`scratch` ``(m, (k_x + 1)(k_w + 1) + 1)``.
    """
    aug, partial = work
    _outcome_grams(predicted, covariates, y, aug, partial)
    width = (predicted.shape[1] + 1) * (covariates.shape[1] + 1)
    _covariate_rows(predicted, covariates, aug, _ridge(aug, partial, width, 1, lam), grad)
