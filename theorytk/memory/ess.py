r"""Effective state size (ESS) of a causal operator, per split point.

For :math:`y = T u` with :math:`T \in \mathbb{R}^{L \times L}` lower triangular, the split
:math:`i \in \{1, \dots, L-1\}` separates the past inputs :math:`u_0..u_{i-1}` from the outputs
:math:`y_i..y_{L-1}`; everything the operator carries across it passes through the
past-to-future block :math:`H_i = T_{i:, :i}` (rows :math:`t \ge i`, columns :math:`s < i`; the
diagonal, the direct feedthrough, is *not* in it). By minimal realisation theory (Kalman,
Ho-Kalman) :math:`\mathrm{rank}\, H_i` is the least state a recurrent realisation needs at
:math:`i` (Parnichkun et al., ICML 2025, arXiv 2504.19561: :math:`\mathrm{ESS}_i =
\mathrm{rank}(T_{i:, :i-1})` in their 1-based notation, as restated in secondary sources; the
paper's exact tolerance and normalisation are unconfirmed).

Two numerical versions from the singular values :math:`\sigma_1 \ge \sigma_2 \ge \dots` of :math:`H_i`:

* ``"tolerance"``: :math:`\#\{k : \sigma_k > \epsilon_i\}` with :math:`\epsilon_i =
  \mathrm{rtol}\cdot\sigma_1` and, by default, :math:`\mathrm{rtol} = \max(L-i, i)\,\varepsilon`
  (:math:`\varepsilon = 2^{-52}`): the backward error of the SVD of an :math:`m \times n` block is
  of order :math:`\max(m, n)\,\varepsilon\,\|H_i\|_2`, so smaller singular values are
  indistinguishable from rounding (the rule of ``numpy.linalg.matrix_rank``);
* ``"entropy"``: :math:`\exp(-\sum_k p_k \log p_k)`, :math:`p_k = \sigma_k / \sum_j \sigma_j`
  over the same retained :math:`\sigma_k > \epsilon_i`; since the exponential of an entropy is at
  most the support size, entropy-ESS :math:`\le` tolerance-ESS.

:func:`ess` finds the retained singular values of a block without its full SVD when the block
is numerically low-rank, and proves that it found all of them. A randomized range finder [1]_
(Algorithm 4.1: :math:`Y = H\Omega` for a Gaussian :math:`\Omega` with :math:`\ell` columns,
:math:`Q = \mathrm{qr}(Y)`) gives :math:`B = Q^\top H` and the residual :math:`R = H - QB`. Then
:math:`\sigma_j(B) \le \sigma_j(H) \le \sigma_j(B) + \|R\|_F` for :math:`j \le \ell` (interlacing
for the projection :math:`Q^\top`; Weyl's inequality for :math:`H = QB + R`) and
:math:`\sigma_j(H) \le \|R\|_F` for :math:`j > \ell`. The count is accepted only when these
intervals put every singular value a factor ``GAP`` (10) clear of the threshold on its side
(so that the full SVD's own rounding, of order :math:`\varepsilon\sigma_1`, cannot move it
across either); otherwise :math:`\ell` doubles, and beyond a quarter of the block's smaller
side the full SVD is used. The retained values are :math:`\sigma_j(B)`, within
:math:`\|R\|_F` (below :math:`\epsilon_i/10`) of the exact ones. :math:`\Omega` is drawn
from a fixed seed per split, so the result is deterministic. :func:`split_singular_values`
always uses the full SVD (the reference).

References
----------
.. [1] N. Halko, P.-G. Martinsson, J. A. Tropp, "Finding structure with randomness:
   probabilistic algorithms for constructing approximate matrix decompositions", SIAM
   Review 53(2), 217-288, 2011.
"""
import numpy as np

from theorytk import _validate
from theorytk.memory.operators import CausalOperator

__all__ = ["causal_matrix", "ess", "ess_from_singular_values", "split_singular_values", "splits"]

_METHODS = ("tolerance", "entropy")
EPS = np.finfo(float).eps
GAP = 10.0          # how far (as a factor) every singular value must sit from the threshold for a certified count
OVERSAMPLING = 8    # columns of Omega beyond the previous split's count (Halko et al. Sec. 4.2: 5-10 suffice)


def causal_matrix(T, name="T"):
    """``T`` (or a :class:`CausalOperator`'s matrix) as a float array, checked square, L >= 2, finite, causal."""
    if isinstance(T, CausalOperator):
        return T.matrix
    T = _validate.array(name, T, ndim=2)
    if T.shape[0] != T.shape[1] or T.shape[0] < 2:
        raise ValueError(f"{name} must be a square L x L matrix with L >= 2, got shape {T.shape}")
    upper = np.triu(T, 1)
    if np.any(upper != 0):
        t, s = np.argwhere(upper != 0)[0]
        raise ValueError(f"{name} must be causal (lower triangular: y_t depends on u_s for s <= t only), got "
                         f"{name}[{t}, {s}] = {T[t, s]!r} above the diagonal")
    return T


def splits(L):
    """The split points :math:`i = 1, \\dots, L-1`."""
    return np.arange(1, _validate.integer("L", L, minimum=2))


def split_singular_values(T):
    """Singular values (descending) of every past-to-future block :math:`T_{i:, :i}`, :math:`i = 1..L-1`."""
    T = causal_matrix(T)
    return [np.linalg.svd(T[i:, :i], compute_uv=False) for i in splits(T.shape[0])]


def _rtol(rtol):
    return None if rtol is None else _validate.real("rtol", rtol, minimum=0.0, maximum=1.0)


def _ess_of(kept, method):
    """ESS from the retained singular values ``kept`` (all above the threshold)."""
    if method == "tolerance":
        return int(kept.size)
    if kept.size == 0:
        return 0.0
    p = kept / kept.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def ess_from_singular_values(sigma, shape, method="tolerance", rtol=None):
    """ESS of one block from its singular values ``sigma`` and its ``shape`` (m, n); see the module docstring."""
    _validate.choice("method", method, _METHODS)
    sigma = _validate.array("sigma", sigma, ndim=1)
    if sigma.size and (np.any(sigma < 0) or np.any(np.diff(sigma) > 0)):
        raise ValueError("sigma must be singular values: non-negative and in descending order")
    rtol = max(shape) * EPS if rtol is None else rtol
    if sigma.size == 0 or sigma[0] == 0.0:
        return _ess_of(sigma[:0], method)
    return _ess_of(sigma[sigma > rtol * sigma[0]], method)


def _certified(sigma_b, residual, rtol):
    """Whether the sketch's singular values ``sigma_b`` and residual bound decide every count (module docstring)."""
    if sigma_b[0] == 0.0 or residual * GAP > rtol * sigma_b[0]:
        return False
    low, high = rtol * sigma_b[0], rtol * (sigma_b[0] + residual)   # the threshold rtol * sigma_1(H) lies in here
    above = sigma_b >= GAP * high
    below = sigma_b + residual <= low / GAP
    return bool(np.all(above | below))


def _retained_singular_values(H, rtol, guess, seed):
    """Singular values of ``H`` above ``rtol * sigma_1(H)``: sketched and certified, else from the full SVD."""
    small = min(H.shape)
    columns = guess + OVERSAMPLING
    rng = np.random.default_rng(seed)
    while rtol > 0 and columns <= small // 4:
        Q, _ = np.linalg.qr(H @ rng.standard_normal((H.shape[1], columns)))
        B = Q.T @ H
        sigma_b = np.linalg.svd(B, compute_uv=False)
        if _certified(sigma_b, float(np.linalg.norm(H - Q @ B)), rtol):
            return sigma_b[sigma_b > rtol * sigma_b[0]]
        columns *= 2
    sigma = np.linalg.svd(H, compute_uv=False)
    return sigma[:0] if sigma[0] == 0.0 else sigma[sigma > rtol * sigma[0]]


def ess(T, method="tolerance", rtol=None):
    r"""ESS of ``T`` at every split :math:`i = 1..L-1` (index ``i - 1``).

    Parameters
    ----------
    T : CausalOperator or array_like, shape (L, L)
        A causal (lower-triangular) operator, L >= 2.
    method : {"tolerance", "entropy"}
    rtol : float in [0, 1], optional
        Singular values :math:`\le \mathrm{rtol}\,\sigma_1` are dropped; default
        :math:`\max(L-i, i)\,\varepsilon` (see the module docstring).

    Returns
    -------
    numpy.ndarray, shape (L - 1,)
        int64 for ``"tolerance"``, float64 for ``"entropy"``. Equal to
        :func:`ess_from_singular_values` of :func:`split_singular_values` (the full SVDs)
        except that numerically low-rank blocks are sketched, with a certified count (see
        the module docstring; entropy-ESS then agrees to rounding).
    """
    _validate.choice("method", method, _METHODS)
    rtol = _rtol(rtol)
    T = causal_matrix(T)
    L = T.shape[0]
    values, guess = [], 0
    for i in splits(L):
        kept = _retained_singular_values(T[i:, :i], max(L - i, i) * EPS if rtol is None else rtol, guess, int(i))
        guess = kept.size
        values.append(_ess_of(kept, method))
    return np.asarray(values, dtype=np.int64 if method == "tolerance" else float)
