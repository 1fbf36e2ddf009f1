"""Exact references: gradient descent on each prompt, the no-CoT floor, the CoT error.

* :func:`gd_rollout_error`: ||w_k - w*||^2 of k GD steps w_{i+1} = w_i - eta S (w_i - w*),
  w_0 = 0, on the same prompts the model sees (the CoT targets of Huang et al. 2025).
* :func:`one_step_floor`: d(d+1)/(n+d+1), the least error of any one-layer LSA without CoT
  (Javanmard et al. arXiv 2603.01293 eq. 3.7 at Sigma = I; ``proofs.icl_cot.NO_COT_FLOOR``).
* :func:`cot_error`: E tr (I - eta S)^{2k} for k <= 2 from the Wishart moments
  (``proofs.icl_cot.COT_ERROR``).
* :func:`conditional_gd_error`: tr (I - eta S)^{2k} per prompt, the GD error averaged over
  w* ~ N(0, I) given the prompt's design (lower variance than :func:`gd_rollout_error`: a linear
  spectral statistic, O(1) fluctuations instead of O(sqrt d)).
* :func:`edge_step`: 1/(1 + sqrt(d/n))^2, the step at the Marchenko-Pastur edge.
"""
from math import comb

import numpy as np

from theorytk import _validate
from theorytk.icl.prompts import RegressionPrompts


def _check_prompts(prompts):
    if not isinstance(prompts, RegressionPrompts):
        raise TypeError(f"prompts must be RegressionPrompts, got {type(prompts).__name__}")
    return prompts


def _gd_arguments(prompts, eta, steps):
    """The checked (prompts, eta > 0, steps >= 1) of the gradient-descent references."""
    return _check_prompts(prompts), _validate.positive("eta", eta), _validate.integer("steps", steps, minimum=1)


def gd_rollout_error(prompts, eta, steps):
    """Squared errors of gradient descent on each prompt, shape (batch, steps).

    Parameters
    ----------
    prompts : RegressionPrompts
    eta : float
        Step size, > 0.
    steps : int
        Number of GD steps, >= 1; column i is the error after i + 1 steps.
    """
    prompts, eta, steps = _gd_arguments(prompts, eta, steps)
    S = prompts.covariances()
    w = np.zeros_like(prompts.w_star)
    out = np.empty((prompts.batch, steps))
    with np.errstate(all="ignore"):
        for i in range(steps):
            w = w - eta * np.einsum("bac,bc->ba", S, w - prompts.w_star)
            out[:, i] = np.sum((w - prompts.w_star) ** 2, axis=1)
    return out


def conditional_gd_error(prompts, eta, steps):
    """E[||w_k - w*||^2 | X] = tr (I - eta S)^{2k} per prompt for k = 1..``steps``, shape (batch, steps).

    w_k - w* = -(I - eta S)^k w* with w* ~ N(0, I_d) independent of the design X (derived
    here, as ``proofs.icl_cot.COT_ERROR``); computed from the eigenvalues of each S.

    Parameters
    ----------
    prompts : RegressionPrompts
    eta : float
        Step size, > 0.
    steps : int
        >= 1.
    """
    prompts, eta, steps = _gd_arguments(prompts, eta, steps)
    factor = (1.0 - eta * np.linalg.eigvalsh(prompts.covariances())) ** 2
    return np.cumprod(np.repeat(factor[:, None, :], steps, axis=1), axis=1).sum(axis=2)


def one_step_floor(d, n):
    """d(d+1)/(n+d+1): the best mean error of a one-layer LSA without CoT (x ~ N(0, I))."""
    d = _validate.integer("d", d, minimum=1)
    n = _validate.integer("n", n, minimum=1)
    return d * (d + 1) / (n + d + 1)


def wishart_moments(d, n):
    """E tr (X X^T)^m for m = 0..4, X a d x n standard Gaussian matrix."""
    d = _validate.integer("d", d, minimum=1)
    n = _validate.integer("n", n, minimum=1)
    return np.array([
        d, n * d, n * d * (n + d + 1),
        n * d * (n**2 + d**2 + 3 * n * d + 3 * n + 3 * d + 4),
        n * d * (n**3 + d**3 + 6 * n**2 * d + 6 * n * d**2 + 6 * n**2 + 6 * d**2 + 17 * n * d + 21 * n + 21 * d + 20),
    ], dtype=float)


def cot_error(d, n, eta, steps):
    r"""E tr (I - eta S)^{2k} = sum_m C(2k, m) (-eta)^m E tr W^m / n^m, for k = ``steps`` in {1, 2}."""
    steps = _validate.integer("steps", steps, minimum=1, maximum=2)
    eta = _validate.positive("eta", eta)
    moments = wishart_moments(d, n)
    return float(sum(comb(2 * steps, m) * (-eta) ** m * moments[m] / n**m for m in range(2 * steps + 1)))


def edge_step(d, n):
    """1/(1 + sqrt(d/n))^2: eta lambda_max(S) -> 1 at the Marchenko-Pastur edge."""
    d = _validate.integer("d", d, minimum=1)
    n = _validate.integer("n", n, minimum=1)
    return 1.0 / (1.0 + np.sqrt(d / n)) ** 2
