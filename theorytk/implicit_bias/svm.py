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
3. Polish: on that support S, :math:`\hat w` is the minimum-norm solution of :math:`Z_S w = \mathbf 1`
   (least squares, conditioned by :math:`Z_S` rather than its Gram matrix), and :math:`\alpha_S` solves
   :math:`Z_S^\top \alpha_S = \hat w`. The KKT residuals (primal feasibility, dual feasibility,
   complementary slackness) are returned, and the tests check them; a primal violation above
   :data:`KKT_TOLERANCE` means the margin is below float64 resolution and raises :class:`NotSeparable`.
"""
from dataclasses import dataclass

import numpy as np

from theorytk import _validate

__all__ = ["MaxMargin", "NotSeparable", "max_margin", "separable"]

KKT_TOLERANCE = 1e-6
"""Largest primal violation max(1 - y w.h) accepted; beyond it the margin is below float64 resolution
(seen for labels that are separable only by a hair: 1 - sum v of the NNLS rounds to 0)."""


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
        ``slackness`` (max |alpha_j (margin_j - 1)| / max(max alpha, 1)), ``stationarity``
        (:math:`\\|\\hat w - \\sum_j \\alpha_j y_j h_j\\| / \\max(\\|\\hat w\\|, 1)`), ``duality_gap``
        (:math:`|\\,\\|\\hat w\\|^2 - \\sum \\alpha| / \\max(\\|\\hat w\\|^2, 1)`).
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
    from scipy.optimize import linprog   # on first use: scipy.optimize is ~0.25 s of every start-up (benchmarks.startup)

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
        If no w separates the data through the origin (the LP is infeasible), or the margin is too
        small for float64 (the solution violates a constraint by more than :data:`KKT_TOLERANCE`).
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
    from scipy.optimize import nnls

    v, _ = nnls(E, f, maxiter=50 * (N + D))
    denominator = 1.0 - v.sum()
    support = np.flatnonzero(v > 0)
    # polish in the primal: the min-norm w with Z_S w = 1 (conditioning cond(Z_S), not its square), then alpha_S
    w, *_ = np.linalg.lstsq(Z[support], np.ones(support.size), rcond=None)
    alpha_s, *_ = np.linalg.lstsq(Z[support].T, w, rcond=None)
    if np.any(alpha_s < 0) or not np.all(np.isfinite(w)):   # polishing left the active set: keep the NNLS solution
        alpha_s = v[support] / denominator
        w = Z[support].T @ alpha_s
    alpha = np.zeros(N)
    alpha[support] = alpha_s
    margins = Z @ w
    kkt = {"primal": float(np.max(1.0 - margins)), "dual": float(np.max(-alpha)),
           "slackness": float(np.max(np.abs(alpha * (margins - 1.0))) / max(alpha.max(), 1.0)),
           "stationarity": float(np.linalg.norm(w - Z.T @ alpha) / max(np.linalg.norm(w), 1.0)),
           "duality_gap": float(abs(w @ w - alpha.sum()) / max(w @ w, 1.0))}
    if not (np.isfinite(kkt["primal"]) and kkt["primal"] <= KKT_TOLERANCE):
        raise NotSeparable(f"the LP finds the data separable, but only with a margin that float64 does not resolve "
                           f"(the least-distance solution violates y w.h >= 1 by {kkt['primal']:.3g}; N = {N}, D = {D}): "
                           "treat it as not separable")
    for a in (w, alpha, support, margins):
        a.setflags(write=False)
    return MaxMargin(w, float(np.linalg.norm(w)), alpha, support, margins, kkt)
