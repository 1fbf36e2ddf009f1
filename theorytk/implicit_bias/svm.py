r"""The hard-margin SVM without bias, solved exactly: the max-margin oracle of the implicit bias.

.. math::

    \hat w = \arg\min_w \tfrac12 \|w\|^2 \quad \text{s.t.}\quad y_j\, w^\top h_j \ge 1 \ (j = 1..N),

with dual :math:`\hat w = \sum_j \alpha_j y_j h_j`, :math:`\alpha \ge 0`, complementary slackness
:math:`\alpha_j (y_j \hat w^\top h_j - 1) = 0`, hence :math:`\|\hat w\|^2 = \sum_j \alpha_j`.

Method (no tolerance-tuned iterative solver):

1. Separability is decided by the linear program "find w with Z w >= 1" (``Z_j = y_j h_j``;
   scipy's HiGHS simplex, an exact finite pivoting method up to rounding).
2. The QP is the *least distance programme* min ||w|| s.t. Z w >= 1, which Lawson and Hanson
   (*Solving Least Squares Problems*, 1974, Ch. 23, Alg. LDP) reduce to one non-negative least
   squares problem: minimise :math:`\|E v - e_{D+1}\|` over :math:`v \ge 0` with
   :math:`E = [Z^\top; \mathbf 1^\top]`; with the residual :math:`r = E v - e_{D+1}`,
   :math:`\hat w = -r_{1:D}/r_{D+1}` and :math:`\alpha = v / (1 - \mathbf 1^\top v)`.
   ``scipy.optimize.nnls`` is the Lawson-Hanson active-set method: it terminates after finitely
   many exact pivots, with the active set (the support vectors) found combinatorially.
3. Polish: on that support S, solve :math:`Z_S Z_S^\top \alpha_S = \mathbf 1` by least squares and
   set :math:`\hat w = Z_S^\top \alpha_S`. The KKT residuals (primal feasibility, dual feasibility,
   complementary slackness) are returned, and the tests check them.
"""
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog, nnls

from theorytk import _validate

__all__ = ["MaxMargin", "NotSeparable", "max_margin", "separable"]


class NotSeparable(ValueError):
    """No w has y_j w.h_j > 0 for every j: the hard-margin SVM does not exist."""


@dataclass(frozen=True, eq=False)
class MaxMargin:
    """The hard-margin SVM (no bias) of features h (N x D) with labels y.

    Attributes
    ----------
    w : numpy.ndarray, shape (D,)
        :math:`\\hat w`, of margin exactly 1 on the support vectors.
    norm : float
        :math:`\\|\\hat w\\|` (the geometric margin is 1/norm).
    alpha : numpy.ndarray, shape (N,)
        Dual variables (0 off the support); :math:`\\sum \\alpha = \\|\\hat w\\|^2`.
    support : numpy.ndarray of int
        Indices of the support vectors.
    margins : numpy.ndarray, shape (N,)
        :math:`y_j \\hat w^\\top h_j` (>= 1).
    kkt : dict
        ``primal`` (max of 1 - margin, >= 0 is a violation), ``dual`` (max of -alpha),
        ``slackness`` (max |alpha_j (margin_j - 1)|), ``duality_gap`` (| ||w||^2 - sum alpha |); stationarity
        :math:`\\hat w = \\sum_j \\alpha_j y_j h_j` holds by construction.
    """

    w: np.ndarray
    norm: float
    alpha: np.ndarray
    support: np.ndarray
    margins: np.ndarray
    kkt: dict

    @property
    def direction(self):
        """The unit vector :math:`\\hat w / \\|\\hat w\\|`."""
        return self.w / self.norm


def _checked(features, labels):
    h = _validate.array("features", features, ndim=2)
    N = h.shape[0]
    if N == 0 or h.shape[1] == 0:
        raise ValueError(f"features must be a non-empty N x D array, got shape {h.shape}")
    y = _validate.array("labels", labels, shape=(N,))
    if not np.all(np.abs(y) == 1.0):
        raise ValueError(f"labels must be +1 or -1, got values {np.unique(y)[:6].tolist()}")
    return h, y


def separable(features, labels):
    """Whether some w has y_j w.h_j >= 1 for all j (an LP feasibility problem, HiGHS simplex).

    Parameters
    ----------
    features : array_like, shape (N, D)
    labels : array_like, shape (N,)
        +1 or -1.

    Returns
    -------
    bool
    """
    h, y = _checked(features, labels)
    return _separable(h * y[:, None])


def _separable(Z):
    D = Z.shape[1]
    res = linprog(np.zeros(D), A_ub=-Z, b_ub=-np.ones(Z.shape[0]), bounds=[(None, None)] * D, method="highs")
    return res.status == 0


def max_margin(features, labels):
    """The hard-margin SVM (no bias) of ``features`` with ``labels``, solved exactly (module docstring).

    Parameters
    ----------
    features : array_like, shape (N, D)
        E.g. the attention outputs of a trained model, ``run.features[-1]``.
    labels : array_like, shape (N,)
        +1 or -1.

    Returns
    -------
    MaxMargin

    Raises
    ------
    NotSeparable
        If no w separates the data through the origin (the LP is infeasible).
    """
    h, y = _checked(features, labels)
    Z = h * y[:, None]
    if not _separable(Z):
        raise NotSeparable(f"features and labels are not linearly separable through the origin (N = {Z.shape[0]}, "
                           f"D = {Z.shape[1]}): no max-margin direction exists")
    N, D = Z.shape
    E = np.vstack([Z.T, np.ones((1, N))])
    f = np.zeros(D + 1)
    f[D] = 1.0
    v, _ = nnls(E, f, maxiter=50 * (N + D))
    denominator = 1.0 - v.sum()
    support = np.flatnonzero(v > 0)
    alpha_s, *_ = np.linalg.lstsq(Z[support] @ Z[support].T, np.ones(support.size), rcond=None)
    if np.any(alpha_s < 0) or not denominator > 0:   # polishing left the active set: keep the NNLS solution
        alpha_s = v[support] / denominator
    alpha = np.zeros(N)
    alpha[support] = alpha_s
    w = Z.T @ alpha
    margins = Z @ w
    kkt = {"primal": float(np.max(1.0 - margins)), "dual": float(np.max(-alpha)),
           "slackness": float(np.max(np.abs(alpha * (margins - 1.0)))),
           "duality_gap": float(abs(w @ w - alpha.sum()))}
    for a in (w, alpha, support, margins):
        a.setflags(write=False)
    return MaxMargin(w, float(np.linalg.norm(w)), alpha, support, margins, kkt)
