r"""Causal linear sequence operators as matrices: :math:`y = T u`, :math:`T` lower triangular.

Every generator returns a :class:`CausalOperator` whose ``matrix`` is the :math:`L \times L`
operator of one realisation and whose ``size`` is the family's capacity parameter (state
size, taps, features). The families (Parnichkun et al., "Quantifying Memory Utilization with
Effective State-Size", ICML 2025, arXiv 2504.19561, Sec. 2, as restated in our notes):

* :func:`diagonal_ssm`: :math:`x_t = A x_{t-1} + B u_t`, :math:`y_t = C x_t + D u_t` with
  diagonal :math:`A` (poles :math:`\lambda_k`), so :math:`T_{ts} = \sum_k r_k \lambda_k^{t-s}
  + D\,\delta_{ts}`, :math:`r_k = c_k b_k` (poles and residues in conjugate pairs: T is real);
* :func:`selective_ssm`: the same with :math:`a_t, b_t, c_t` varying in time (one realisation of
  an input-varying, Mamba-like SSM);
* :func:`fir`: :math:`T_{ts} = h_{t-s}` for :math:`0 \le t-s < k`;
* :func:`linear_attention`: :math:`T_{ts} = q_t \cdot k_s` for :math:`s \le t` (values = inputs);
* :func:`softmax_attention`: :math:`T_{ts} = \mathrm{softmax}_{s \le t}(q_t \cdot k_s)` with
  position-dependent queries and keys (the attention pattern of a fixed realisation).

``construction="copy"`` builds the operators that copy a context of length :math:`L_c`
(:func:`theorytk.memory.copy_error`) as well as their capacity allows: keys and queries that are
unit vectors (linear attention: the Eckart-Young optimum), poles at the :math:`L_c`-th roots of
unity (LTI SSM: its past-to-future block is an orthogonal projection, derived in
:mod:`proofs.memory_capacity`), position keys of large sharpness (softmax).
"""
from dataclasses import dataclass

import numpy as np

from theorytk import _validate
from theorytk.random import generator

__all__ = ["CausalOperator", "diagonal_ssm", "fir", "linear_attention", "lti_ssm", "selective_ssm",
           "softmax_attention", "FAMILIES"]

#: family name -> what ``size`` means
FAMILIES = {"diagonal_ssm": "state", "selective_ssm": "state", "fir": "taps", "linear_attention": "features",
            "softmax_attention": None}
_CONSTRUCTIONS = ("random", "copy")


@dataclass(frozen=True, eq=False)
class CausalOperator:
    r"""One causal operator :math:`y = T u` of a family.

    Attributes
    ----------
    matrix : numpy.ndarray, shape (L, L)
        Lower triangular, read-only.
    family : str
        One of :data:`FAMILIES`.
    size : int or None
        The capacity parameter: state size (SSMs), taps (FIR), features (linear attention);
        None for softmax attention.
    construction : str
        ``"random"`` or ``"copy"``.
    """

    matrix: np.ndarray
    family: str
    size: int | None
    construction: str = "random"

    @property
    def L(self):
        """Sequence length."""
        return self.matrix.shape[0]

    def cap(self):
        r"""The family's rank cap on :math:`T_{i:, :i}` for the splits :math:`i = 1, \dots, L-1`.

        :math:`\min(c, i, L-i)` with :math:`c = n` (SSMs), :math:`k - 1` (FIR), :math:`d_k`
        (linear attention), no :math:`c` for softmax (theorems of :mod:`proofs.memory_capacity`).
        """
        i = np.arange(1, self.L)
        shape = np.minimum(i, self.L - i)
        if self.family == "softmax_attention":
            return shape
        c = self.size - 1 if self.family == "fir" else self.size
        return np.minimum(c, shape)


def _frozen(matrix, family, size, construction="random"):
    matrix = np.ascontiguousarray(matrix, dtype=float)
    matrix.flags.writeable = False
    return CausalOperator(matrix, family, size, construction)


def _lags(L):
    """``lag[t, s] = t - s`` and the causal mask ``t >= s``."""
    t = np.arange(L)
    lag = t[:, None] - t[None, :]
    return lag, lag >= 0


def _construction(construction):
    return _validate.choice("construction", construction, _CONSTRUCTIONS)


def _context(context, L, size, size_name):
    """The copy context length: default L // 2; L >= 2 context and size <= context."""
    context = L // 2 if context is None else _validate.integer("context", context, minimum=1)
    if 2 * context > L:
        raise ValueError(f"context must be <= L/2 = {L / 2:g} (the copy targets follow the context), got {context}")
    if size is not None and size > context:
        raise ValueError(f"{size_name} must be <= context = {context} for construction='copy', got {size}")
    return context


def lti_ssm(L, poles, residues, feedthrough=0.0):
    r"""The LTI SSM with diagonal :math:`A = \mathrm{diag}(\lambda)` and residues :math:`r_k = c_k b_k`.

    :math:`T_{ts} = \sum_k r_k \lambda_k^{t-s} + D\,\delta_{ts}` for :math:`t \ge s`; its state size is
    ``len(poles)``.

    Parameters
    ----------
    L : int
        Sequence length (>= 2).
    poles, residues : array_like of complex, shape (n,)
        Closed under conjugation together (so that T is real); ``|poles| <= 1``.
    feedthrough : float
        :math:`D`.
    """
    L = _validate.integer("L", L, minimum=2)
    poles = _validate.array("poles", poles, ndim=1, dtype=complex)
    residues = _validate.array("residues", residues, shape=(poles.size,), dtype=complex)
    if poles.size == 0:
        raise ValueError("poles must hold at least one pole")
    if np.any(np.abs(poles) > 1.0 + 4 * np.finfo(float).eps):   # exp(2 pi i k / L_c): |.| = 1 to a few ulps
        raise ValueError(f"poles must satisfy |pole| <= 1 (a stable or marginal SSM), got max |pole| "
                         f"{np.abs(poles).max():.6g}")
    feedthrough = _validate.real("feedthrough", feedthrough)
    m = np.arange(L)
    g = (poles[None, :] ** m[:, None]) @ residues
    if np.max(np.abs(g.imag)) > 1e-12 * max(np.max(np.abs(g.real)), 1e-300):
        raise ValueError("poles and residues must come in conjugate pairs (T must be real); the impulse response "
                         f"has imaginary part up to {np.max(np.abs(g.imag)):.3g}")
    lag, causal = _lags(L)
    T = np.where(causal, g.real[np.clip(lag, 0, None)], 0.0) + feedthrough * np.eye(L)
    return _frozen(T, "diagonal_ssm", int(poles.size))


def roots_of_unity_frequencies(n, context):
    """The ``n`` frequencies k of :math:`\\omega^k` (:math:`\\omega = e^{2\\pi i/L_c}`), closed under k -> -k.

    Odd n: 0, +-1, ..., +-(n-1)/2; even n < L_c: +-1, ..., +-n/2; n = L_c: all.
    """
    if n == context:
        return np.arange(context)
    half = np.arange(1, n // 2 + 1)
    pairs = np.concatenate([half, -half]) % context
    return np.concatenate([[0], pairs]) if n % 2 else pairs


def diagonal_ssm(L, state, seed=0, *, poles="complex", radius=(0.9, 0.99), feedthrough=True,
                 construction="random", context=None, damping=1.0):
    r"""A diagonal LTI SSM of state size ``state`` (one realisation).

    Parameters
    ----------
    L : int
        Sequence length (>= 2).
    state : int
        State size :math:`n` (>= 1).
    seed : int or numpy.random.SeedSequence
    poles : {"complex", "real"}
        ``"complex"``: :math:`\lfloor n/2 \rfloor` conjugate pairs :math:`\rho e^{\pm i\theta}`
        (:math:`\rho` uniform in ``radius``, :math:`\theta` uniform in :math:`(0, \pi)`) and one real
        pole if n is odd; ``"real"``: n real poles uniform in ``radius``. Residues
        :math:`c_k b_k` with :math:`b, c` standard (complex) normal.
    radius : (float, float)
        Range of :math:`|\lambda|`, in (0, 1].
    feedthrough : bool
        Draw :math:`D \sim N(0, 1)` (True) or set :math:`D = 0`.
    construction : {"random", "copy"}
        ``"copy"``: poles :math:`\omega^k` at ``state`` of the ``context``-th roots of unity,
        residues :math:`1/L_c`, :math:`D = 0` (see the module docstring); ``seed`` is unused.
    context : int, optional
        Copy context :math:`L_c` (default ``L // 2``); ``construction="copy"`` only.
    damping : float in (0, 1]
        ``construction="copy"`` only: poles :math:`\rho\,\omega^k` with :math:`\rho` = ``damping``
        (1: on the unit circle, on the COPY bound; below 1: a stable SSM strictly above it).
    """
    L = _validate.integer("L", L, minimum=2)
    n = _validate.integer("state", state, minimum=1)
    if _construction(construction) == "copy":
        context = _context(context, L, n, "state")
        rho = _validate.real("damping", damping, minimum=0.0, maximum=1.0, strict_minimum=True)
        lam = rho * np.exp(2j * np.pi * roots_of_unity_frequencies(n, context) / context)
        return _with_construction(lti_ssm(L, lam, np.full(n, 1.0 / context)), "copy")
    _validate.choice("poles", poles, ("complex", "real"))
    lo, hi = _radius(radius)
    rng = generator(_validate.seed("seed", seed))
    if poles == "real":
        lam = rng.uniform(lo, hi, n).astype(complex)
        res = (rng.standard_normal(n) * rng.standard_normal(n)).astype(complex)
    else:
        m = n // 2
        pair = rng.uniform(lo, hi, m) * np.exp(1j * rng.uniform(0.0, np.pi, m))
        b = rng.standard_normal(m) + 1j * rng.standard_normal(m)
        c = rng.standard_normal(m) + 1j * rng.standard_normal(m)
        lam = np.concatenate([pair, pair.conj()])
        res = np.concatenate([b * c, (b * c).conj()])
        if n % 2:
            lam = np.append(lam, rng.uniform(lo, hi))
            res = np.append(res, rng.standard_normal() * rng.standard_normal())
    D = rng.standard_normal() if feedthrough else 0.0
    return lti_ssm(L, lam, res, D)


def _with_construction(op, construction):
    return CausalOperator(op.matrix, op.family, op.size, construction)


def _radius(radius):
    try:
        lo, hi = (float(r) for r in radius)
    except (TypeError, ValueError):
        raise TypeError(f"radius must be a pair of floats (lo, hi), got {radius!r}") from None
    if not 0.0 < lo <= hi <= 1.0:
        raise ValueError(f"radius must satisfy 0 < lo <= hi <= 1, got {radius!r}")
    return lo, hi


def selective_ssm(L, state, seed=0, *, decay=(0.5, 1.0)):
    r"""One realisation of a selective (input-varying) diagonal SSM of state size ``state``.

    :math:`x_t = \mathrm{diag}(a_t) x_{t-1} + b_t u_t`, :math:`y_t = c_t \cdot x_t`, so
    :math:`T_{ts} = \sum_k c_{t,k} \big(\prod_{r=s+1}^{t} a_{r,k}\big) b_{s,k}`, with
    :math:`a_{t,k}` uniform in ``decay`` and :math:`b_t, c_t` standard normal (in a Mamba layer
    they are functions of the input; here one realisation of them).
    """
    L = _validate.integer("L", L, minimum=2)
    n = _validate.integer("state", state, minimum=1)
    lo, hi = _radius(decay)
    rng = generator(_validate.seed("seed", seed))
    a = rng.uniform(lo, hi, (L, n))
    b = rng.standard_normal((L, n))
    c = rng.standard_normal((L, n))
    # prod_{r=s+1}^{t} a_r = P_t / P_s with P_t = prod_{r<=t} a_r, computed per column s to avoid underflow
    T = np.zeros((L, L))
    for s in range(L):
        x = b[s].copy()
        for t in range(s, L):
            if t > s:
                x *= a[t]
            T[t, s] = c[t] @ x
    return _frozen(T, "selective_ssm", n)


def fir(L, taps, seed=0):
    r"""A causal convolution with ``taps`` random weights :math:`h_0..h_{k-1} \sim N(0, 1)`."""
    L = _validate.integer("L", L, minimum=2)
    k = _validate.integer("taps", taps, minimum=1, maximum=L)
    h = generator(_validate.seed("seed", seed)).standard_normal(k)
    lag, causal = _lags(L)
    T = np.where(causal & (lag < k), h[np.clip(lag, 0, k - 1)], 0.0)
    return _frozen(T, "fir", k)


def linear_attention(L, features, seed=0, *, construction="random", context=None):
    r"""Causal linear attention :math:`T_{ts} = q_t \cdot k_s` (:math:`s \le t`) with ``features`` = :math:`d_k`.

    ``"random"``: :math:`q_t, k_s \sim N(0, I/d_k)`. ``"copy"``: :math:`k_s = e_s` for
    :math:`s < d_k` (else 0), :math:`q_{L_c + j} = e_j` for :math:`j < d_k` (else 0): the past-to-future
    block at :math:`L_c` is :math:`\mathrm{diag}(1_{d_k}, 0)`, a best rank-:math:`d_k` approximation of
    the identity (Eckart-Young).
    """
    L = _validate.integer("L", L, minimum=2)
    d = _validate.integer("features", features, minimum=1)
    if _construction(construction) == "copy":
        context = _context(context, L, d, "features")
        Q, K = np.zeros((L, d)), np.zeros((L, d))
        K[np.arange(d), np.arange(d)] = 1.0
        Q[context + np.arange(d), np.arange(d)] = 1.0
    else:
        rng = generator(_validate.seed("seed", seed))
        Q, K = rng.standard_normal((2, L, d)) / np.sqrt(d)
    return _frozen(np.tril(Q @ K.T), "linear_attention", d, construction)


def softmax_attention(L, dim=8, seed=0, *, construction="random", context=None, sharpness=40.0):
    r"""Causal softmax attention with position queries and keys: :math:`T_{ts} = \mathrm{softmax}_{s \le t}(q_t \cdot k_s)`.

    ``"random"``: :math:`q_t, k_s \sim N(0, I/\sqrt{d})` (so :math:`q \cdot k` has unit variance).
    ``"copy"``: :math:`k_s = e_s` (:math:`s < L_c`, else 0), :math:`q_{L_c + j} = \beta e_j`
    (:math:`\beta` = ``sharpness``), other queries 0; ``dim`` is then :math:`L_c`.
    """
    L = _validate.integer("L", L, minimum=2)
    beta = _validate.positive("sharpness", sharpness)
    if _construction(construction) == "copy":
        context = _context(context, L, None, "dim")
        Q, K = np.zeros((L, context)), np.zeros((L, context))
        K[np.arange(context), np.arange(context)] = 1.0
        Q[context + np.arange(context), np.arange(context)] = beta
    else:
        d = _validate.integer("dim", dim, minimum=1)
        rng = generator(_validate.seed("seed", seed))
        Q, K = rng.standard_normal((2, L, d)) / d**0.25
    logits = np.where(np.tri(L, dtype=bool), Q @ K.T, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return _frozen(weights / weights.sum(axis=1, keepdims=True), "softmax_attention", None, construction)
