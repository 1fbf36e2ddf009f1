r"""The Doob h-transform sampler: the reference score plus a correction, run backwards.

With the forward OU process of :mod:`theorytk.alignment.reference_distributions`, the
reverse-time SDE of the target :math:`q \propto p_\text{ref} e^{-f}` is, for
:math:`\tau = T - t`,

.. math::

    dY_\tau = \big[Y_\tau + 2\big(\nabla\log p_{T-\tau}(Y_\tau) + \nabla\log h_{T-\tau}(Y_\tau)\big)\big]d\tau
    + \sqrt2\, dW_\tau, \qquad Y_0 \sim N(0, I),

the pretrained score plus the Doob correction :math:`\nabla\log h_t` [1]_. On the uniform
grid :math:`t_s = T - s h` (``h = horizon / steps``) with the drift frozen over a step:

* exponential integrator: :math:`Y \leftarrow e^h Y + 2(e^h - 1)\, s + \sqrt{e^{2h}-1}\,\xi`;
* Euler-Maruyama: :math:`Y \leftarrow Y + h(Y + 2s) + \sqrt{2h}\,\xi`.

Corrections: ``"exact"`` (closed form, :mod:`theorytk.alignment.tilt`), ``"mc"``
(self-normalised Monte Carlo over ``M`` exact posterior draws :math:`X_0 \mid X_t = y`,
weights :math:`e^{-f}`; bias :math:`O(1/M)`, spread :math:`O(M^{-1/2})`) and ``"nested"``
(the paper's estimator: the ``M`` draws are end points of reruns of the reference reverse
SDE from the current state down to time 0, exponential integrator with ``inner_steps``
steps; the reruns use the exact reference score). A reference-score error
(:class:`~theorytk.alignment.reference_distributions.ScoreError`) is added to the
reference score of the outer chain.

For a Gaussian reference, a quadratic potential and the exact correction, the scores are
affine, so the discretised chain is exactly Gaussian: :meth:`DoobSampler.exact_law` runs
its mean/covariance recursion.

References
----------
.. [1] R. Kawata, K. Oko, A. Nitanda, T. Suzuki, ICLR 2025, arXiv:2502.02954.
.. [2] S. Chen et al., "Sampling is as easy as learning the score", ICLR 2023.
"""
from dataclasses import dataclass

import numpy as np

from theorytk import _validate
from theorytk.errors import SolverFailure
from theorytk.alignment import _kernels
from theorytk.alignment import reference as _reference
from theorytk.alignment.potentials import CallablePotential
from theorytk.alignment.reference_distributions import Gaussian, GaussianMixture, ScoreError, ou_coefficients, \
    posterior_arrays
from theorytk.alignment.tilt import tilt
from theorytk.metrics import gaussian_kl, gaussian_w2
from theorytk.random import stream_seeds

__all__ = ["DoobSampler", "GaussianLaw", "SamplerDiverged"]

CORRECTIONS = {"exact": _kernels.EXACT, "mc": _kernels.MC, "nested": _kernels.NESTED}
SCHEMES = ("exponential", "euler")
STARTS = ("standard", "marginal")


class SamplerDiverged(SolverFailure, FloatingPointError):
    """A particle of the sampler became NaN or infinite, or ended beyond the divergence threshold."""


@dataclass(frozen=True, eq=False)
class GaussianLaw:
    """The exact law :math:`N(\\text{mean}, \\text{cov})` of the discretised chain's final state."""

    mean: np.ndarray
    cov: np.ndarray

    def kl_from(self, target):
        """:math:`\\mathrm{KL}(\\text{target} \\| \\text{this law})` for a :class:`Gaussian` target."""
        return gaussian_kl(target.mean, target.cov, self.mean, self.cov)

    def kl_to(self, target):
        """:math:`\\mathrm{KL}(\\text{this law} \\| \\text{target})`."""
        return gaussian_kl(self.mean, self.cov, target.mean, target.cov)

    def hellinger(self, other):
        """Hellinger distance :math:`H = \\sqrt{1 - BC}` to a Gaussian ``other`` (GaussianLaw or :class:`Gaussian`).

        :math:`BC = \\frac{\\det\\Sigma_1^{1/4}\\det\\Sigma_2^{1/4}}{\\det\\bar\\Sigma^{1/2}}
        \\exp(-\\tfrac18 \\Delta^\\top\\bar\\Sigma^{-1}\\Delta)`, :math:`\\bar\\Sigma = (\\Sigma_1 + \\Sigma_2)/2`;
        a metric, with :math:`H^2 \\le \\mathrm{KL}/2` and :math:`\\mathrm{TV} \\le \\sqrt2 H`.
        """
        mean, cov = (other.mean, other.cov)
        avg = 0.5 * (self.cov + cov)
        delta = self.mean - mean
        log_bc = (0.25 * (np.linalg.slogdet(self.cov)[1] + np.linalg.slogdet(cov)[1]) - 0.5 * np.linalg.slogdet(avg)[1]
                  - 0.125 * delta @ np.linalg.solve(avg, delta))
        return float(np.sqrt(max(0.0, -np.expm1(log_bc))))

    def w2(self, target):
        """Bures-Wasserstein :math:`W_2` to a :class:`Gaussian` target."""
        return gaussian_w2(self.mean, self.cov, target.mean, target.cov)


def _coefficients(scheme, h, names="horizon / steps"):
    """``(a, c, g)`` of one step of size ``h``; ValueError naming ``names`` (what ``h`` is) if they overflow."""
    with np.errstate(over="ignore"):
        out = (np.exp(h), 2.0 * np.expm1(h), np.sqrt(np.expm1(2.0 * h))) if scheme == "exponential" else (
            1.0 + h, 2.0 * h, np.sqrt(2.0 * h))
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{names} = {h:g} is too large a step for the {scheme} scheme (its coefficients overflow "
                         "float64): use more steps")
    return out


def _mixture_steps(mixture, times):
    """Stacked ``(const, means, precisions)`` of the OU marginals at ``times``."""
    m, var = ou_coefficients(np.asarray(times, dtype=float))
    covs = m[:, None, None, None] ** 2 * mixture.covs[None] + var[:, None, None, None] * np.eye(mixture.d)
    logdet = 2.0 * np.log(np.diagonal(np.linalg.cholesky(covs), axis1=-2, axis2=-1)).sum(axis=-1)
    means = m[:, None, None] * mixture.means[None]
    return (np.ascontiguousarray(np.log(mixture.weights)[None] - 0.5 * logdet), np.ascontiguousarray(means),
            np.ascontiguousarray(np.linalg.inv(covs)))


def _check_callable(reference, potential, correction, start):
    """For a :class:`CallablePotential`: the checks :func:`tilt` would make, and that no closed form is needed."""
    if not isinstance(reference, GaussianMixture):
        raise TypeError(f"reference must be a GaussianMixture or Gaussian, got {type(reference).__name__}")
    if potential.d != reference.d:
        raise ValueError(f"potential has dimension {potential.d} but the reference has dimension {reference.d}")
    if correction == "exact":
        raise ValueError("correction='exact' needs the closed-form tilt of a QuadraticPotential or LinearPotential; "
                         "a CallablePotential runs with correction='mc' or correction='nested'")
    if start == "marginal":
        raise ValueError("start='marginal' needs the closed-form target marginal; use start='standard' with a "
                         "CallablePotential")


class DoobSampler:
    """Sample :math:`q \\propto p_\\text{ref} e^{-f}` with the reference score plus a Doob correction.

    Parameters
    ----------
    reference : GaussianMixture or Gaussian
        The pretrained model; its exact OU scores play the learned score.
    potential : QuadraticPotential, LinearPotential or CallablePotential
        :math:`f`; the tilt must be proper. A :class:`CallablePotential` has no closed-form
        tilt: it needs ``correction="mc"`` or ``"nested"`` and ``start="standard"``, and
        :attr:`tilt` is None.
    correction : {"exact", "mc", "nested"}
    scheme : {"exponential", "euler"}
    mc_samples : int, default 64
        ``M``, draws per correction estimate (``"mc"``, ``"nested"``).
    inner_steps : int, default 50
        Steps of each nested rerun (``"nested"``).
    score_error : ScoreError, optional
        Error injected into the reference score of the outer chain.
    start : {"standard", "marginal"}
        Start from :math:`N(0, I)` (the practical choice) or exactly from :math:`q_T` (no
        initialisation error; isolates the other terms).

    Attributes
    ----------
    tilt : theorytk.alignment.tilt.Tilt or None
        The closed-form target and normaliser (None for a :class:`CallablePotential`).
    """

    def __init__(self, reference, potential, correction="exact", *, scheme="exponential", mc_samples=64,
                 inner_steps=50, score_error=None, start="standard"):
        self.correction = _validate.choice("correction", correction, set(CORRECTIONS))
        self.start = _validate.choice("start", start, set(STARTS))
        self._reference, self._potential = reference, potential
        if isinstance(potential, CallablePotential):
            _check_callable(reference, potential, self.correction, self.start)
            self.tilt = None
        else:
            self.tilt = tilt(reference, potential)
        self.scheme = _validate.choice("scheme", scheme, set(SCHEMES))
        self.mc_samples = _validate.integer("mc_samples", mc_samples, minimum=1)
        self.inner_steps = _validate.integer("inner_steps", inner_steps, minimum=1)
        if score_error is not None and not isinstance(score_error, ScoreError):
            raise TypeError(f"score_error must be a ScoreError or None, got {type(score_error).__name__}")
        self.score_error = ScoreError(0.0) if score_error is None else score_error

    @property
    def reference(self):
        return self._reference

    @property
    def potential(self):
        return self._potential

    @property
    def target(self):
        """The closed-form tilted target (not available for a :class:`CallablePotential`)."""
        if self.tilt is None:
            raise ValueError("a CallablePotential has no closed-form target; use a QuadraticPotential for one")
        return self.tilt.target

    def _arguments(self, steps, horizon):
        """Every array the kernel (and its NumPy twin) takes, except seeds and outputs."""
        steps = _validate.integer("steps", steps, minimum=1)
        horizon = _validate.positive("horizon", horizon)
        h = horizon / steps
        times = horizon - h * np.arange(steps)
        ref, d = self.reference, self.reference.d
        init = (self.target.marginal(horizon) if self.start == "marginal" else Gaussian(np.zeros(d), np.eye(d)))
        init_chol = np.linalg.cholesky(init.covs)
        a, c, g = _coefficients(self.scheme, h)
        ref_const, ref_mean, ref_prec = _mixture_steps(ref, times)
        err_vec, err_mat = self.score_error.affine(ref, times)
        tgt_arrays = _mixture_steps(self.target, times) if self.correction == "exact" else (
            np.zeros((steps, 1)), np.zeros((steps, 1, d)), np.zeros((steps, 1, d, d)))
        m, var = ou_coefficients(times)
        M = self.mc_samples if self.correction != "exact" else 1
        if self.correction == "mc":
            post = [posterior_arrays(ref, t) for t in times]
            post_const, post_mat, post_chol = (np.stack([p[0] for p in post]), np.stack([p[1] for p in post]),
                                               np.linalg.cholesky(np.stack([p[2] for p in post])))
        else:
            post_const, post_mat, post_chol = np.zeros((steps, 1, d)), np.zeros((steps, 1, d, d)), np.zeros(
                (steps, 1, d, d))
        if self.correction == "nested":
            J = self.inner_steps
            inner = [_mixture_steps(ref, t - (t / J) * np.arange(J)) for t in times]
            in_const, in_mean, in_prec = (np.stack([p[i] for p in inner]) for i in range(3))
            in_a, in_c, in_g = (np.array(v) for v in zip(*[_coefficients("exponential", t / J, "horizon / inner_steps")
                                                            for t in times]))
        else:
            in_const, in_mean, in_prec = np.zeros((steps, 1, 1)), np.zeros((steps, 1, 1, d)), np.zeros(
                (steps, 1, 1, d, d))
            in_a = in_c = in_g = np.zeros(steps)
        pot = self.potential
        A, b = (np.zeros((d, d)), np.zeros(d)) if self.tilt is None else (np.array(pot.A), np.array(pot.b))
        return (np.array(init.weights), np.array(init.means), init_chol, float(a), float(c), float(g),
                ref_const, ref_mean, ref_prec, err_vec, err_mat, CORRECTIONS[self.correction], *tgt_arrays,
                m / var, post_const, post_mat, post_chol, A, b, M, in_const, in_mean, in_prec, in_a, in_c, in_g)

    @staticmethod
    def particle_seeds(seed, n):
        """Per-particle 32-bit seeds (numba's generator keeps the low 32 bits) from ``seed``."""
        return (stream_seeds(seed, n) & np.uint64(0xFFFFFFFF)).astype(np.int64)

    def sample(self, n, steps, horizon, seed=0, *, divergence_threshold=1e6):
        """Draw ``n`` samples (n, d) by running the chain for ``steps`` steps over ``[0, horizon]``.

        Particle ``i`` uses its own seed (:meth:`particle_seeds`), so the samples do not depend
        on the number of threads.

        Parameters
        ----------
        n, steps : int
        horizon : float > 0
        seed : int or numpy.random.SeedSequence
        divergence_threshold : float > 0
            A final coordinate beyond this in absolute value is a diverged run (checked once,
            after the chain; the kernel stops a particle as soon as it is non-finite). Raise it
            for a target that lives at that scale.

        Raises
        ------
        SamplerDiverged
            With the step and a hint, if a particle becomes non-finite or ends beyond
            ``divergence_threshold`` (e.g. a step h of 50: the exponential integrator then
            returns samples of size 1e22).
        """
        n = _validate.integer("n", n, minimum=1)
        seed = _validate.seed("seed", seed)
        threshold = _validate.positive("divergence_threshold", divergence_threshold)
        args = self._arguments(steps, horizon)
        out = np.empty((n, self.reference.d))
        status = np.full(n, -1, dtype=np.int64)
        seeds = self.particle_seeds(seed, n)
        if self.tilt is None:
            _kernels.sample_chain_callable(self.potential.function, seeds, out, status, *args)
        else:
            _kernels.sample_chain(seeds, out, status, *args)
        self._check_run(out, status, steps, horizon, threshold)
        return out

    def sample_reference(self, n, steps, horizon, seed=0, *, divergence_threshold=1e6):
        """The plain-NumPy twin of :meth:`sample` (same seeds, same numbers up to rounding, same divergence check)."""
        n = _validate.integer("n", n, minimum=1)
        threshold = _validate.positive("divergence_threshold", divergence_threshold)
        args = self._arguments(steps, horizon)
        potential = self.potential.reference_values if self.tilt is None else _reference.quadratic_potential
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging chain is reported below
            out = _reference.sample_chain(self.particle_seeds(_validate.seed("seed", seed), n), potential, *args)
        self._check_run(out, None, steps, horizon, threshold)
        return out

    def _check_run(self, out, status, steps, horizon, threshold):
        """Raise :class:`SamplerDiverged` if a particle stopped non-finite (``status``) or ended beyond ``threshold``.

        ``status`` is the kernel's (the step at which each particle became non-finite, or -1),
        or None (the NumPy twin, which runs every step).
        """
        stopped = np.zeros(len(out), dtype=bool) if status is None else status >= 0
        if stopped.any():
            bad = int(np.argmax(stopped))
            what = f"became non-finite at step {int(status[bad])} of {steps}"
        else:
            size = np.abs(out).max(axis=1)
            beyond = ~(size <= threshold)  # NaN included
            if not beyond.any():
                return
            bad = int(np.argmax(beyond))
            what = (f"ended at max |y_i| = {size[bad]:.3g}, beyond divergence_threshold = {threshold:g}, "
                    f"after the last step ({steps} of {steps})")
        hint = ("Euler-Maruyama needs h L < 1 for a score of Lipschitz constant L; use more steps or "
                "scheme='exponential'" if self.scheme == "euler" else
                "The exponential integrator freezes the score over a step, which amplifies it for h of order 1 "
                "and above; use more steps")
        raise SamplerDiverged(f"particle {bad} {what} (horizon {horizon:g}): the step h = {horizon / steps:g} is "
                              f"probably too large. {hint}.")

    def exact_law(self, steps, horizon):
        """The exact Gaussian law of the discretised chain's final state (Gaussian reference, exact correction).

        With the affine drift :math:`s_\\text{model} + u = -P_s(y - \\nu_s) + e_s + E_s y` (the
        target's marginal precision and mean plus the affine score error), one step is
        :math:`y' = B_s y + c(P_s\\nu_s + e_s) + g\\xi`, :math:`B_s = aI + c(E_s - P_s)`, so

        .. math::

            \\text{mean}' = B_s\\,\\text{mean} + c(P_s\\nu_s + e_s), \\qquad
            \\text{cov}' = B_s\\,\\text{cov}\\,B_s^\\top + g^2 I.

        Returns
        -------
        GaussianLaw
        """
        if not isinstance(self.reference, Gaussian) or self.correction != "exact":
            raise ValueError("exact_law needs a Gaussian reference and correction='exact' "
                             f"(got {type(self.reference).__name__}, correction={self.correction!r})")
        args = self._arguments(steps, horizon)
        (_, init_mean, init_chol, a, c, g, _, _, _, err_vec, err_mat, _, _, tgt_mean, tgt_prec) = args[:15]
        d = self.reference.d
        mean, cov = init_mean[0].copy(), init_chol[0] @ init_chol[0].T
        for s in range(len(err_vec)):
            P = tgt_prec[s, 0]
            B = a * np.eye(d) + c * (err_mat[s] - P)
            mean = B @ mean + c * (P @ tgt_mean[s, 0] + err_vec[s])
            cov = B @ cov @ B.T + g**2 * np.eye(d)
        return GaussianLaw(mean, 0.5 * (cov + cov.T))

