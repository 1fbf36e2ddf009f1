"""Symmetric InfoNCE over mini-batches, and the configurations whose loss is known in closed form.

For unit vectors :math:`u_i, v_i \\in \\mathbb{R}^d` (rows of ``U``, ``V``), temperature
:math:`\\tau` and a batch :math:`S` of size B, the loss of the authors' code
(krafton-ai/mini-batch-cl, ``utils.py``: ``clip_batch_loss`` = ``full_batch_loss(u, v) +
full_batch_loss(v, u)``, there with :math:`\\tau = 1`) is

.. math::

    \\ell_S(U, V) = \\frac1B \\sum_{i \\in S} \\Big[-\\log \\frac{e^{u_i\\cdot v_i/\\tau}}{\\sum_{j\\in S} e^{u_i\\cdot v_j/\\tau}}
      - \\log \\frac{e^{v_i\\cdot u_i/\\tau}}{\\sum_{j\\in S} e^{v_i\\cdot u_j/\\tau}}\\Big],

and the mini-batch objective over a batch list is the mean :math:`\\frac1m\\sum_S \\ell_S`
(``mini_batch_loss`` averages over all ``itertools.combinations(range(N), B)``). The closed
forms below are :mod:`proofs.contrastive_etf` (derived there, checked in ``tests/proofs``).
"""
import numpy as np

from theorytk import _validate
from theorytk.contrastive import _kernels
from theorytk.contrastive.batches import check_batches


def check_embeddings(U, V):
    """``U``, ``V`` as float64 ``(N, d)`` arrays of the same shape with unit rows (to 1e-8)."""
    U = _validate.array("U", U, ndim=2)
    V = _validate.array("V", V, shape=U.shape)
    for name, X in (("U", U), ("V", V)):
        worst = float(np.max(np.abs(np.linalg.norm(X, axis=1) - 1.0)))
        if worst > 1e-8:
            raise ValueError(f"the rows of {name} must have unit norm; the largest | ||x_i|| - 1 | is {worst:.3g}")
    return U, V


def loss(U, V, batches, tau=1.0, symmetric=True):
    """The mini-batch objective :math:`\\frac1m\\sum_S \\ell_S(U, V)` (see the module docstring).

    Parameters
    ----------
    U, V : array_like, shape (N, d)
        Unit rows.
    batches : array_like of int, shape (m, B)
        Batch list (:mod:`theorytk.contrastive.batches`); ``all_batches(N, N)`` is the full batch.
    tau : float, default 1.0
        Temperature (>= 0.01, :data:`~theorytk.contrastive._kernels.TAU_MIN`); the authors' code has none, i.e. 1.
    symmetric : bool, default True
        Both directions (CLIP/symmetric InfoNCE); False keeps the u-to-v term only.

    Returns
    -------
    float
    """
    U, V = check_embeddings(U, V)
    batches = check_batches(batches, U.shape[0])
    tau = _validate.real("tau", tau, minimum=_kernels.TAU_MIN)
    return float(_kernels.loss_and_gradient(U, V, batches, tau, _validate.flag("symmetric", symmetric))[0])


def gradient(U, V, batches, tau=1.0, symmetric=True):
    """Euclidean gradients :math:`(\\nabla_U L, \\nabla_V L)` of :func:`loss`, each of shape (N, d).

    :math:`\\nabla_U L = W V/\\tau`, :math:`\\nabla_V L = W^\\top U/\\tau` with :math:`W` the batch-averaged
    softmax coefficients (:mod:`theorytk.contrastive._kernels`). At a constrained stationary point
    each row is normal to its sphere: :math:`\\nabla_{u_i} L = \\lambda_i u_i`.
    """
    U, V = check_embeddings(U, V)
    batches = check_batches(batches, U.shape[0])
    tau = _validate.real("tau", tau, minimum=_kernels.TAU_MIN)
    _, gU, gV = _kernels.loss_and_gradient(U, V, batches, tau, _validate.flag("symmetric", symmetric))
    return gU, gV


def simplex_etf(N, d):
    """The simplex ETF: N unit vectors in :math:`\\mathbb{R}^d` with :math:`u_i\\cdot u_j = -1/(N-1)`, ``d >= N - 1``.

    :math:`u_i = \\sqrt{N/(N-1)}\\,(e_i - \\mathbf{1}/N)` written in an orthonormal basis of the
    sum-zero hyperplane of :math:`\\mathbb{R}^N` (its first N - 1 coordinates), zero-padded to d.
    """
    N = _validate.integer("N", N, minimum=2)
    d = _validate.integer("d", d, minimum=N - 1)
    centred = np.sqrt(N / (N - 1)) * (np.eye(N) - 1.0 / N)
    basis = np.linalg.svd(centred)[2][: N - 1]          # orthonormal rows spanning the hyperplane
    out = np.zeros((N, d))
    out[:, : N - 1] = centred @ basis.T
    return out


def cross_polytope(N, d):
    """The cross-polytope :math:`\\pm e_1, \\dots, \\pm e_{N/2}` (rows ``2k``, ``2k+1`` antipodal), ``d >= N/2``."""
    N = _validate.integer("N", N, minimum=2)
    if N % 2:
        raise ValueError(f"N must be even for the cross-polytope, got {N}")
    d = _validate.integer("d", d, minimum=N // 2)
    out = np.zeros((N, d))
    for k in range(N // 2):
        out[2 * k, k], out[2 * k + 1, k] = 1.0, -1.0
    return out


def _sizes(N, B, tau):
    N = _validate.integer("N", N, minimum=2)
    B = _validate.integer("B", B, minimum=2, maximum=N)
    return N, B, _validate.positive("tau", tau)


def etf_loss(N, B, tau=1.0):
    """Mini-batch objective over all C(N, B) batches at the N-point ETF with U = V.

    :math:`2\\log(1 + (B-1)e^{-N/((N-1)\\tau)})` (:data:`proofs.contrastive_etf.ETF_MINIBATCH_LOSS`);
    ``B = N`` is the full-batch optimum.
    """
    N, B, tau = _sizes(N, B, tau)
    return 2.0 * np.log1p((B - 1) * np.exp(-N / ((N - 1) * tau)))


def partition_batch_loss(B, tau=1.0):
    """Minimum of one batch's loss, attained by a B-point ETF: :math:`2\\log(1 + (B-1)e^{-B/((B-1)\\tau)})`."""
    B = _validate.integer("B", B, minimum=2)
    return etf_loss(B, B, tau)


def cross_polytope_loss(N, B, tau=1.0):
    """Objective over all C(N, B) batches at the cross-polytope (N even) with U = V.

    A pair's antipode is in a batch containing it with probability p = (B-1)/(N-1):
    :math:`2[p\\log(1+e^{-2/\\tau}+(B-2)e^{-1/\\tau}) + (1-p)\\log(1+(B-1)e^{-1/\\tau})]`
    (:data:`proofs.contrastive_etf.CROSS_POLYTOPE_LOSS`).
    """
    N, B, tau = _sizes(N, B, tau)
    if N % 2:
        raise ValueError(f"N must be even for the cross-polytope, got {N}")
    p = (B - 1) / (N - 1)
    e1, e2 = np.exp(-1.0 / tau), np.exp(-2.0 / tau)
    return 2.0 * (p * np.log1p(e2 + (B - 2) * e1) + (1 - p) * np.log1p((B - 1) * e1))
