r"""Dual averaging (DA) over distributions for RLHF, DPO, KTO and moment matching.

Objective [1]_: :math:`\mathcal{L}(q) = F(q) + \beta\,\mathrm{KL}(q \| p_\text{ref})`. DA keeps
every iterate a Gibbs tilt of the reference,

.. math::

    q_{k+1} \propto p_\text{ref}\, e^{-f_{k+1}}, \qquad
    f_{k+1} = \frac{(\beta W_{k-1} + \beta') f_k + w_k g_k}{\beta W_k + \beta'}, \qquad
    W_k = \sum_{j \le k} w_j,

with :math:`g_k = \frac{\delta F}{\delta q}(q_k)` the first variation, so only the previous
potential is needed (the one-potential form; derivation in :mod:`proofs.doob_alignment`).
:math:`f_0 = 0`, i.e. :math:`q_0 = p_\text{ref}`. The weights ``w_j`` (``"uniform"``:
:math:`w_j = 1`; ``"linear"``: :math:`w_j = j + 1`) and :math:`\beta'` (default
:math:`\beta' = \beta`, as in every experiment of the paper per its reviews) are
[unconfirmed] against the paper's Algorithm 1.

**First variation by regression.** Potentials are quadratic, :math:`f = \theta^\top\phi` with
the features

.. math::

    \phi(x) = \big(-x_1, \dots, -x_d,\ \tfrac12 x_1^2, \dots, \tfrac12 x_d^2,\ x_i x_j\ (i < j)\big),

so :math:`\theta = (b, \operatorname{diag} A, A_{i<j})` for :math:`f = \frac12 x^\top A x - b^\top x`.
:math:`g_k` is projected on the features in :math:`L^2(q_k)` (it is defined up to a
constant, so the features are centred): :math:`\operatorname{Cov}_{q_k}(\phi)\,\theta_g =
\operatorname{Cov}_{q_k}(\phi, g_k)`. The right side is a directional derivative of
:math:`F` along :math:`q_\varepsilon \propto q_k e^{-\varepsilon v^\top\phi}`, which exists
even where :math:`g_k` is a sum of point masses (DPO, KTO):
:math:`\operatorname{Cov}_{q}(g, v^\top\phi) = -\frac{d}{d\varepsilon}F(q_\varepsilon)`.
Moments of :math:`\phi` under :math:`q_k` are exact (Gaussian-mixture moments up to order
four) or, with ``n_samples``, Monte Carlo estimates from draws of :math:`q_k`.

References
----------
.. [1] R. Kawata, K. Oko, A. Nitanda, T. Suzuki, ICLR 2025, arXiv:2502.02954.
.. [2] A. Nitanda, D. Wu, T. Suzuki, "Particle dual averaging", NeurIPS 2021.
.. [3] R. Rafailov et al., "Direct preference optimization", NeurIPS 2023 (DPO).
.. [4] K. Ethayarajh et al., "KTO: model alignment as prospect theoretic optimization", ICML 2024.
"""
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

from theorytk import _validate
from theorytk.alignment.potentials import QuadraticPotential, null_potential
from theorytk.alignment.reference_distributions import Gaussian, GaussianMixture
from theorytk.alignment.tilt import tilt
from theorytk.random import as_seed_sequence

__all__ = ["DPO", "KTO", "RLHF", "DualAveragingResult", "MomentMatching", "dual_averaging", "features"]

WEIGHTS = ("uniform", "linear")


def _pairs(d):
    return [(i, j) for i in range(d) for j in range(i + 1, d)]


def features(x):
    """:math:`\\phi(x)` for ``x`` (n, d): shape (n, 2d + d(d-1)/2)."""
    x = np.atleast_2d(x)
    cross = [x[:, i] * x[:, j] for i, j in _pairs(x.shape[1])]
    return np.column_stack([-x, 0.5 * x**2, *cross]) if cross else np.column_stack([-x, 0.5 * x**2])


def theta_of(potential):
    """:math:`\\theta` of a quadratic potential (its constant is dropped)."""
    A = potential.A
    return np.concatenate([potential.b, np.diag(A), [A[i, j] for i, j in _pairs(potential.d)]])


def potential_of(theta, d):
    """The quadratic potential with parameters :math:`\\theta`."""
    A = np.diag(theta[d:2 * d]).astype(float)
    for value, (i, j) in zip(theta[2 * d:], _pairs(d)):
        A[i, j] = A[j, i] = value
    return QuadraticPotential(A, theta[:d])


def _feature_map(d):
    """Matrix ``L`` with :math:`\\phi = L\\,(x, \\operatorname{vec}(x x^\\top))`."""
    p = 2 * d + len(_pairs(d))
    L = np.zeros((p, d + d * d))
    L[:d, :d] = -np.eye(d)
    for i in range(d):
        L[d + i, d + i * d + i] = 0.5
    for row, (i, j) in enumerate(_pairs(d)):
        L[2 * d + row, d + i * d + j] = 1.0
    return L


def feature_moments(mixture):
    """Exact :math:`(E_q\\phi, \\operatorname{Cov}_q\\phi)` for a Gaussian mixture (Isserlis up to order four)."""
    d = mixture.d
    Ez, Ezz = np.zeros(d + d * d), np.zeros((d + d * d, d + d * d))
    for w, m, S in zip(mixture.weights, mixture.means, mixture.covs):
        e2 = S + np.outer(m, m)
        e3 = (np.einsum("i,j,k->ijk", m, m, m) + np.einsum("i,jk->ijk", m, S) + np.einsum("j,ik->ijk", m, S)
              + np.einsum("k,ij->ijk", m, S))
        mm = np.outer(m, m)
        e4 = (np.einsum("ij,kl->ijkl", mm, mm)
              + sum(np.einsum(spec, mm, S) for spec in ("ij,kl->ijkl", "ik,jl->ijkl", "il,jk->ijkl",
                                                        "jk,il->ijkl", "jl,ik->ijkl", "kl,ij->ijkl"))
              + np.einsum("ij,kl->ijkl", S, S) + np.einsum("ik,jl->ijkl", S, S) + np.einsum("il,jk->ijkl", S, S))
        Ez += w * np.concatenate([m, e2.ravel()])
        block = np.zeros_like(Ezz)
        block[:d, :d] = e2
        block[:d, d:] = e3.reshape(d, d * d)
        block[d:, :d] = block[:d, d:].T
        block[d:, d:] = e4.reshape(d * d, d * d)
        Ezz += w * block
    L = _feature_map(d)
    mean = L @ Ez
    return mean, L @ Ezz @ L.T - np.outer(mean, mean)


@dataclass(frozen=True, eq=False)
class _State:
    """An iterate: the tilt by ``potential`` and the moments of the features under it."""

    tilt: object
    potential: QuadraticPotential
    feature_mean: np.ndarray
    feature_cov: np.ndarray
    sample_mean: np.ndarray  # E_q X (exact, or from the same draws as the feature moments)


def _mean_potential(potential, state):
    """:math:`E_q f` from the feature moments."""
    return theta_of(potential) @ state.feature_mean + potential.c


def _check_points(name, value, d=None, ndim=2):
    value = _validate.array(name, value, ndim=ndim)
    if value.shape[0] == 0:
        raise ValueError(f"{name} must not be empty")
    if d is not None and value.shape[-1] != d:
        raise ValueError(f"{name} must have {d} coordinates (last axis), got shape {value.shape}")
    return value


class RLHF:
    """RLHF: :math:`F(q) = -E_q r` with a quadratic reward ``r`` (a :class:`QuadraticPotential` giving r's values).

    :math:`\\delta F/\\delta q = -r`; the regularised optimum is :math:`q^* \\propto p_\\text{ref} e^{r/\\beta}`
    with :math:`\\mathcal{L}^* = -\\beta \\log E_{p_\\text{ref}} e^{r/\\beta}`.
    """

    def __init__(self, reward, beta):
        if not isinstance(reward, QuadraticPotential):
            raise TypeError(f"reward must be a QuadraticPotential, got {type(reward).__name__}")
        self.reward = reward
        self.beta = _validate.positive("beta", beta)
        self.d = reward.d

    def value(self, state):
        return -_mean_potential(self.reward, state)

    def covariance_with_features(self, state):
        return -state.feature_cov @ theta_of(self.reward)

    def optimum(self, reference):
        """``(tilt of q*, L*)``."""
        opt = tilt(reference, self.reward * (-1.0 / self.beta))
        return opt, -self.beta * opt.log_normaliser


class MomentMatching:
    """:math:`F(q) = \\frac12 |E_q X - c|^2` (convex, nonlinear); :math:`\\delta F/\\delta q = (E_qX - c)^\\top x`.

    For :math:`p_\\text{ref} = N(\\mu, \\Sigma)` the optimum is :math:`N(m^*, \\Sigma)` with
    :math:`m^* = (\\beta I + \\Sigma)^{-1}(\\beta\\mu + \\Sigma c)` [derived].
    """

    def __init__(self, target_mean, beta):
        self.target_mean = _validate.array("target_mean", target_mean, ndim=1)
        self.beta = _validate.positive("beta", beta)
        self.d = self.target_mean.size

    def value(self, state):
        return 0.5 * float(np.sum((state.sample_mean - self.target_mean) ** 2))

    def covariance_with_features(self, state):
        d = self.d
        theta = np.zeros_like(state.feature_mean)
        theta[:d] = -(state.sample_mean - self.target_mean)
        return state.feature_cov @ theta

    def optimum(self, reference):
        """``(tilt of q*, L*)`` for a Gaussian reference."""
        if not isinstance(reference, Gaussian):
            raise ValueError("the moment-matching optimum is closed-form only for a Gaussian reference")
        mu, S = reference.mean, reference.cov
        m_star = np.linalg.solve(self.beta * np.eye(self.d) + S, self.beta * mu + S @ self.target_mean)
        opt = tilt(reference, QuadraticPotential(np.zeros((self.d, self.d)), np.linalg.solve(S, m_star - mu)))
        diff = m_star - mu
        return opt, 0.5 * float(np.sum((m_star - self.target_mean) ** 2)) + 0.5 * self.beta * diff @ np.linalg.solve(S, diff)


class DPO:
    """DPO: :math:`F(q) = E_{(x_w, x_l)}[-\\log\\sigma(\\beta(\\psi(x_w) - \\psi(x_l)))]`, :math:`\\psi = \\log(q/p_\\text{ref})`.

    With :math:`q \\propto p_\\text{ref}e^{-f}`, :math:`\\psi(x_w) - \\psi(x_l) = f(x_l) - f(x_w)`:
    logistic regression on potential differences. Not convex in ``q``.

    Parameters
    ----------
    pairs : array_like, shape (n, 2, d)
        ``pairs[i, 0]`` preferred over ``pairs[i, 1]``.
    beta : float
    """

    def __init__(self, pairs, beta):
        self.pairs = _validate.array("pairs", pairs, ndim=3)
        if self.pairs.shape[0] == 0 or self.pairs.shape[1] != 2:
            raise ValueError(f"pairs must have shape (n, 2, d) with n >= 1, got {self.pairs.shape}")
        self.beta = _validate.positive("beta", beta)
        self.d = self.pairs.shape[2]
        self._phi_w, self._phi_l = features(self.pairs[:, 0]), features(self.pairs[:, 1])

    def _margin(self, potential):
        theta = theta_of(potential)
        return self.beta * (self._phi_l @ theta - self._phi_w @ theta)

    def loss(self, potential):
        """:math:`F(q)` for :math:`q \\propto p_\\text{ref} e^{-f}`, ``f = potential`` (only f's differences enter)."""
        return float(-np.mean(log_expit(self._margin(potential))))

    def value(self, state):
        return self.loss(state.potential)

    def covariance_with_features(self, state):
        slope = self.beta * expit(-self._margin(state.potential))
        return np.mean(slope[:, None] * (self._phi_l - self._phi_w), axis=0)


class KTO:
    """KTO value terms with :math:`\\psi = \\log(q/p_\\text{ref}) = -f - \\log Z` and a reference point ``z0``.

    .. math::

        F(q) = \\lambda_D E_D[1 - \\sigma(\\beta(\\psi(x) - z_0))] + \\lambda_U E_U[1 - \\sigma(\\beta(z_0 - \\psi(x)))].

    The parametrisation of the paper's KTO (in particular ``z0``) is [unconfirmed]; here ``z0``
    is a fixed number (default 0, i.e. the reference itself).
    """

    def __init__(self, desirable, undesirable, beta, z0=0.0, lambda_d=1.0, lambda_u=1.0):
        self.desirable = _check_points("desirable", desirable)
        self.undesirable = _check_points("undesirable", undesirable, d=self.desirable.shape[1])
        self.beta = _validate.positive("beta", beta)
        self.z0 = _validate.real("z0", z0)
        self.lambda_d = _validate.real("lambda_d", lambda_d, minimum=0.0)
        self.lambda_u = _validate.real("lambda_u", lambda_u, minimum=0.0)
        self.d = self.desirable.shape[1]
        self._phi_d, self._phi_u = features(self.desirable), features(self.undesirable)

    def _psi(self, state, phi):
        return -(phi @ theta_of(state.potential)) - state.tilt.log_normaliser + state.potential.c

    def value(self, state):
        good = self.beta * (self._psi(state, self._phi_d) - self.z0)
        bad = self.beta * (self.z0 - self._psi(state, self._phi_u))
        return float(self.lambda_d * np.mean(expit(-good)) + self.lambda_u * np.mean(expit(-bad)))

    def covariance_with_features(self, state):
        good = self.beta * (self._psi(state, self._phi_d) - self.z0)
        bad = self.beta * (self.z0 - self._psi(state, self._phi_u))
        slope_d = self.lambda_d * self.beta * expit(good) * expit(-good)
        slope_u = self.lambda_u * self.beta * expit(bad) * expit(-bad)
        centred_d, centred_u = self._phi_d - state.feature_mean, self._phi_u - state.feature_mean
        return -np.mean(slope_d[:, None] * centred_d, axis=0) + np.mean(slope_u[:, None] * centred_u, axis=0)


OBJECTIVES = (RLHF, MomentMatching, DPO, KTO)


@dataclass(frozen=True, eq=False)
class DualAveragingResult:
    """Result of :func:`dual_averaging`.

    Attributes
    ----------
    potentials : tuple of QuadraticPotential
        :math:`f_0 = 0, f_1, \\dots, f_K`.
    tilts : tuple of Tilt
        :math:`q_k \\propto p_\\text{ref} e^{-f_k}` in closed form.
    objective, loss, kl : ndarray, shape (K+1,)
        :math:`\\mathcal{L}(q_k)`, :math:`F(q_k)` and :math:`\\mathrm{KL}(q_k\\|p_\\text{ref}) =
        -E_{q_k} f_k - \\log Z_k` (exact, from the closed forms).
    iterate_change : ndarray, shape (K,)
        :math:`|\\theta_{k+1} - \\theta_k|`, the gap between successive iterates (the
        paper's nonconvex guarantee is that it vanishes).
    weights : ndarray, shape (K,)
    beta, beta_prime : float
    """

    potentials: tuple
    tilts: tuple
    objective: np.ndarray
    loss: np.ndarray
    kl: np.ndarray
    iterate_change: np.ndarray
    weights: np.ndarray
    beta: float
    beta_prime: float


def _state(reference, potential, n_samples, seed):
    try:
        tilted = tilt(reference, potential)
    except ValueError as exc:
        raise ValueError(f"dual averaging produced an improper iterate ({exc}); a smaller step (larger beta_prime) "
                         "or a better-conditioned objective is needed") from None
    if n_samples is None:
        mean, cov = feature_moments(tilted.target)
        return _State(tilted, potential, mean, cov, tilted.target.mean)
    x = tilted.target.sample(n_samples, seed=seed)
    phi = features(x)
    return _State(tilted, potential, phi.mean(axis=0), np.cov(phi.T), x.mean(axis=0))


def dual_averaging(objective, reference, iterations, *, beta_prime=None, weights="uniform", n_samples=None, seed=0):
    """Run ``iterations`` DA steps of :math:`\\mathcal{L}(q) = F(q) + \\beta\\,\\mathrm{KL}(q\\|p_\\text{ref})`.

    Parameters
    ----------
    objective : RLHF, MomentMatching, DPO or KTO
        ``F`` and its :math:`\\beta` (``objective.beta``).
    reference : GaussianMixture or Gaussian
    iterations : int
        ``K >= 1``.
    beta_prime : float, optional
        :math:`\\beta' > 0`, default :math:`\\beta`.
    weights : {"uniform", "linear"}
    n_samples : int, optional
        Estimate the feature moments from this many exact draws of each :math:`q_k`
        (default: exact moments).
    seed : int or numpy.random.SeedSequence
        Iteration ``k`` draws with ``SeedSequence(entropy, spawn_key + (k,))``.

    Returns
    -------
    DualAveragingResult
    """
    if not isinstance(objective, OBJECTIVES):
        raise TypeError(f"objective must be one of {[c.__name__ for c in OBJECTIVES]}, got {type(objective).__name__}")
    if not isinstance(reference, GaussianMixture):
        raise TypeError(f"reference must be a GaussianMixture or Gaussian, got {type(reference).__name__}")
    if objective.d != reference.d:
        raise ValueError(f"objective has dimension {objective.d} but the reference has dimension {reference.d}")
    iterations = _validate.integer("iterations", iterations, minimum=1)
    beta = objective.beta
    beta_prime = beta if beta_prime is None else _validate.positive("beta_prime", beta_prime)
    _validate.choice("weights", weights, set(WEIGHTS))
    if n_samples is not None:
        n_samples = _validate.integer("n_samples", n_samples, minimum=2 * reference.d + 2)
    root = as_seed_sequence(seed)
    w = np.ones(iterations) if weights == "uniform" else np.arange(1.0, iterations + 1.0)
    d = reference.d
    theta = np.zeros(2 * d + len(_pairs(d)))
    potentials, tilts, values, losses, kls, changes = [], [], [], [], [], []
    potential = null_potential(d)
    W_previous = 0.0
    for k in range(iterations + 1):
        child = np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key + (k,))
        state = _state(reference, potential, n_samples, child)
        loss = objective.value(state)
        kl = -(theta @ feature_moments(state.tilt.target)[0]) - state.tilt.log_normaliser
        potentials.append(potential)
        tilts.append(state.tilt)
        losses.append(loss)
        kls.append(kl)
        values.append(loss + beta * kl)
        if k == iterations:
            break
        g = np.linalg.lstsq(state.feature_cov, objective.covariance_with_features(state), rcond=None)[0]
        W = W_previous + w[k]
        new_theta = ((beta * W_previous + beta_prime) * theta + w[k] * g) / (beta * W + beta_prime)
        changes.append(float(np.linalg.norm(new_theta - theta)))
        theta, W_previous = new_theta, W
        potential = potential_of(theta, d)
    return DualAveragingResult(tuple(potentials), tuple(tilts), np.array(values), np.array(losses), np.array(kls),
                               np.array(changes), w, beta, beta_prime)
