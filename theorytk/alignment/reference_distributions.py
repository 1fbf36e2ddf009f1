r"""Reference distributions with exact scores along the Ornstein-Uhlenbeck process.

Convention (forward OU, [derived]; the paper's time scaling is unconfirmed):

.. math::

    dX_t = -X_t\,dt + \sqrt2\,dB_t, \qquad X_t \mid X_0 \sim N(m_t X_0, \sigma_t^2 I),
    \qquad m_t = e^{-t}, \quad \sigma_t^2 = 1 - e^{-2t}.

A Gaussian mixture :math:`p = \sum_k \pi_k N(\mu_k, S_k)` stays a mixture:
:math:`p_t = \sum_k \pi_k N(m_t\mu_k, C_k)`, :math:`C_k = m_t^2 S_k + \sigma_t^2 I`, so its
density, score and posterior are exact at every :math:`t`. The posterior
:math:`X_0 \mid X_t = x` is the mixture with weights :math:`r_k(x) \propto \pi_k N(x; m_t\mu_k, C_k)`
(the responsibilities) and components :math:`N(\hat\mu_k(x), \hat S_k)`,

.. math::

    \hat S_k = (S_k^{-1} + \tfrac{m_t^2}{\sigma_t^2} I)^{-1}, \qquad
    \hat\mu_k(x) = \hat S_k (S_k^{-1}\mu_k + \tfrac{m_t}{\sigma_t^2} x),

and Tweedie's formula :math:`\nabla\log p_t(x) = (m_t E[X_0 \mid X_t = x] - x)/\sigma_t^2` holds.

References
----------
.. [1] R. Kawata, K. Oko, A. Nitanda, T. Suzuki, "Direct distributional optimization for
   provable alignment of diffusion models", ICLR 2025, arXiv:2502.02954.
.. [2] S. Chen, S. Chewi, J. Li, Y. Li, A. Salim, A. R. Zhang, "Sampling is as easy as
   learning the score", ICLR 2023 (OU convention and the sampling bound template).
"""
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from theorytk import _validate
from theorytk.alignment.reference import mixture_score
from theorytk.random import generator

__all__ = ["Gaussian", "GaussianMixture", "ScoreError", "ou_coefficients"]

_WEIGHT_TOLERANCE = 1e-10


def ou_coefficients(t):
    """``(m_t, sigma_t^2) = (exp(-t), 1 - exp(-2t))`` for finite times ``t >= 0`` (array or scalar).

    A negative time is refused (``ValueError`` naming ``t``): the process runs forward from
    :math:`X_0`, and there :math:`\\sigma_t^2 < 0` is no variance.
    """
    t = _validate.array("t", t).reshape(np.shape(t))  # a scalar stays 0-d (ascontiguousarray makes it 1-d)
    if np.any(t < 0):
        raise ValueError(f"t must be >= 0 (an OU time from X_0), got {int(np.count_nonzero(t < 0))} negative values, "
                         f"e.g. {float(t.flat[int(np.argmax(t < 0))]):g}")
    return np.exp(-t), -np.expm1(-2.0 * t)


def _frozen(array):
    array = np.array(array, dtype=float, copy=True)
    array.flags.writeable = False
    return array


def spd_factors(name, covs):
    """Cholesky factors of a stack of matrices; ValueError naming ``name[k]`` if one is not SPD."""
    if not np.allclose(covs, np.swapaxes(covs, -1, -2), rtol=1e-10, atol=1e-12):
        bad = int(np.argmax(np.abs(covs - np.swapaxes(covs, -1, -2)).reshape(len(covs), -1).max(axis=1)))
        raise ValueError(f"{name}[{bad}] must be symmetric")
    chols = np.empty_like(covs)
    for k, cov in enumerate(covs):
        try:
            chols[k] = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            low = float(np.linalg.eigvalsh(cov).min())
            raise ValueError(f"{name}[{k}] must be symmetric positive definite, smallest eigenvalue {low:.3g}") from None
    return chols


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    r"""A Gaussian mixture :math:`p = \sum_k \pi_k N(\mu_k, S_k)` on :math:`\mathbb{R}^d`.

    Parameters
    ----------
    weights : array_like, shape (K,)
        Positive, summing to one (within 1e-10).
    means : array_like, shape (K, d)
    covs : array_like, shape (K, d, d)
        Symmetric positive definite.

    Attributes
    ----------
    d, n_components : int
    mean : ndarray, shape (d,)
        :math:`\sum_k \pi_k \mu_k`.
    covariance : ndarray, shape (d, d)
        :math:`\sum_k \pi_k (S_k + \mu_k\mu_k^\top) - \text{mean}\,\text{mean}^\top`.
    """

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray

    def __post_init__(self):
        weights = _validate.array("weights", self.weights, ndim=1)
        if weights.size == 0 or np.any(weights <= 0):
            raise ValueError(f"weights must be non-empty and positive, got {weights!r}")
        if abs(weights.sum() - 1.0) > _WEIGHT_TOLERANCE:
            raise ValueError(f"weights must sum to one, got sum {weights.sum():.12g}")
        means = _validate.array("means", self.means, ndim=2)
        if means.shape[0] != weights.size:
            raise ValueError(f"means must have shape ({weights.size}, d) for {weights.size} weights, got {means.shape}")
        d = means.shape[1]
        if d == 0:
            raise ValueError("means must have at least one coordinate (d >= 1)")
        covs = _validate.array("covs", self.covs, shape=(weights.size, d, d))
        chols = spd_factors("covs", covs)
        object.__setattr__(self, "weights", _frozen(weights))
        object.__setattr__(self, "means", _frozen(means))
        object.__setattr__(self, "covs", _frozen(covs))
        object.__setattr__(self, "_chols", _frozen(chols))

    @property
    def d(self):
        return self.means.shape[1]

    @property
    def n_components(self):
        return self.weights.size

    @property
    def mean(self):
        return self.weights @ self.means

    @property
    def covariance(self):
        second = np.einsum("k,kij->ij", self.weights, self.covs + np.einsum("ki,kj->kij", self.means, self.means))
        return second - np.outer(self.mean, self.mean)

    def _points(self, x):
        x = _validate.array("x", x, ndim=(1, 2))
        single = x.ndim == 1
        x = np.atleast_2d(x)
        if x.shape[1] != self.d:
            raise ValueError(f"x must have {self.d} coordinates (last axis), got shape {x.shape}")
        return x, single

    def marginal(self, t):
        """The OU marginal :math:`p_t = \\sum_k \\pi_k N(m_t\\mu_k, m_t^2 S_k + \\sigma_t^2 I)` at time ``t >= 0``."""
        t = _validate.real("t", t, minimum=0.0)
        m, var = ou_coefficients(t)
        return GaussianMixture(self.weights, m * self.means, m**2 * self.covs + var * np.eye(self.d))

    def component_arrays(self):
        """``(const, means, precisions)``: :math:`\\log\\pi_k - \\frac12\\log\\det S_k`, :math:`\\mu_k`, :math:`S_k^{-1}`."""
        logdet = 2.0 * np.log(np.diagonal(self._chols, axis1=1, axis2=2)).sum(axis=1)
        return np.log(self.weights) - 0.5 * logdet, np.array(self.means), np.linalg.inv(self.covs)

    def log_density(self, x, t=0.0):
        """:math:`\\log p_t(x)` for ``x`` of shape (d,) or (n, d)."""
        x, single = self._points(x)
        const, means, prec = self.marginal(t).component_arrays()
        diff = x[:, None, :] - means[None]
        quad = np.einsum("nki,kij,nkj->nk", diff, prec, diff)
        out = logsumexp(const[None] - 0.5 * quad, axis=1) - 0.5 * self.d * np.log(2 * np.pi)
        return out[0] if single else out

    def score(self, x, t=0.0):
        """:math:`\\nabla\\log p_t(x)`, shape of ``x``."""
        x, single = self._points(x)
        out = mixture_score(x, *self.marginal(t).component_arrays())[0]
        return out[0] if single else out

    def posterior(self, x, t):
        """The posterior :math:`X_0 \\mid X_t = x` (``t > 0``): weights (n, K), means (n, K, d), covariances (K, d, d)."""
        t = _validate.positive("t", t)
        x, _ = self._points(x)
        resp = mixture_score(x, *self.marginal(t).component_arrays())[1]
        const, means, covs = posterior_arrays(self, t)
        return resp, const[None] + np.einsum("kij,nj->nki", means, x), covs

    def posterior_mean(self, x, t):
        """:math:`E[X_0 \\mid X_t = x]` (``t > 0``), shape of ``x``."""
        _, single = self._points(x)
        resp, means, _ = self.posterior(x, t)
        out = np.einsum("nk,nki->ni", resp, means)
        return out[0] if single else out

    def sample(self, n, seed=0):
        """``n`` exact draws (n, d) with a PCG64 generator seeded by ``seed``."""
        n = _validate.integer("n", n, minimum=1)
        rng = generator(seed)
        k = rng.choice(self.n_components, size=n, p=self.weights)
        return self.means[k] + np.einsum("nij,nj->ni", self._chols[k], rng.standard_normal((n, self.d)))


class Gaussian(GaussianMixture):
    """A Gaussian :math:`N(\\mu, \\Sigma)`: a one-component :class:`GaussianMixture`.

    Parameters
    ----------
    mean : array_like, shape (d,)
    cov : array_like, shape (d, d)
        Symmetric positive definite.
    """

    def __init__(self, mean, cov):
        mean = _validate.array("mean", mean, ndim=1)
        cov = _validate.array("cov", cov, shape=(mean.size, mean.size))
        spd_factors("cov", cov[None])
        super().__init__(np.ones(1), mean[None], cov[None])

    @property
    def cov(self):
        return self.covs[0]


def posterior_arrays(mixture, t):
    """Per component: :math:`\\hat S_k S_k^{-1}\\mu_k` (K, d), :math:`\\frac{m_t}{\\sigma_t^2}\\hat S_k` (K, d, d), :math:`\\hat S_k`."""
    m, var = ou_coefficients(t)
    prec = np.linalg.inv(mixture.covs)
    post_cov = np.linalg.inv(prec + (m**2 / var) * np.eye(mixture.d))
    post_cov = 0.5 * (post_cov + np.swapaxes(post_cov, 1, 2))
    const = np.einsum("kij,kjl,kl->ki", post_cov, prec, mixture.means)
    return const, (m / var) * post_cov, post_cov


@dataclass(frozen=True)
class ScoreError:
    r"""An injected error :math:`\delta_t` of the reference score model :math:`s_\text{model} = \nabla\log p_t + \delta_t`.

    * ``kind="sup"``: :math:`\delta_t(x) = \varepsilon v` with a unit vector ``v`` (default
      :math:`(1, \dots, 1)/\sqrt d`): :math:`\sup_x|\delta_t(x)| = \varepsilon`, the L-infinity
      error of the paper's Assumption 3.3 (number unconfirmed).
    * ``kind="l2"``: :math:`\delta_t(x) = \varepsilon (x - E_{p_t}X)/\sqrt{\operatorname{tr}\operatorname{Cov}_{p_t}X}`:
      :math:`\|\delta_t\|_{L^2(p_t)} = \varepsilon` under the *reference* marginal, unbounded in sup-norm.

    Both are affine in ``x``, so a Gaussian problem keeps an exactly Gaussian discretised chain.

    Parameters
    ----------
    eps : float
        :math:`\varepsilon \ge 0`.
    kind : {"sup", "l2"}
    direction : array_like, shape (d,), optional
        ``v`` for ``kind="sup"`` (normalised here).
    """

    eps: float
    kind: str = "sup"
    direction: tuple | None = None

    def __post_init__(self):
        object.__setattr__(self, "eps", _validate.real("eps", self.eps, minimum=0.0))
        _validate.choice("kind", self.kind, {"sup", "l2"})
        if self.direction is not None:
            v = _validate.array("direction", self.direction, ndim=1)
            if not np.linalg.norm(v) > 0:
                raise ValueError("direction must be a non-zero vector")
            object.__setattr__(self, "direction", tuple(float(c) for c in v / np.linalg.norm(v)))

    def affine(self, reference, times):
        """``(vec (S, d), mat (S, d, d))`` with :math:`\\delta_{t_s}(x) = \\text{vec}_s + \\text{mat}_s x`."""
        d, S = reference.d, len(times)
        vec, mat = np.zeros((S, d)), np.zeros((S, d, d))
        if self.kind == "sup":
            v = np.ones(d) / np.sqrt(d) if self.direction is None else np.array(self.direction)
            if v.size != d:
                raise ValueError(f"direction must have {d} coordinates, got {v.size}")
            vec[:] = self.eps * v
            return vec, mat
        for s, t in enumerate(times):
            marginal = reference.marginal(t)
            scale = self.eps / np.sqrt(np.trace(marginal.covariance))
            mat[s] = scale * np.eye(d)
            vec[s] = -scale * marginal.mean
        return vec, mat
