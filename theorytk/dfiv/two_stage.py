r"""The closed forms of two-stage (feature) IV regression, shared by DFIV, sieve 2SLS and RFF-KIV.

Notation (Xu et al., ICLR 2021, arXiv 2010.07154, Sec. 3 and 4; their code
``liyuan9988/DeepFeatureIV``, ``DFIVModel.fit_2sls`` and ``fit_linear``): on the n stage-1
rows, instrument features :math:`\Phi_1 = \phi(Z_1)` (intercept column already appended by
the caller) and treatment features :math:`\Psi_1 = \psi(X_1)` (n x k_x, no intercept); on
the m stage-2 rows :math:`\Phi_2`, outcomes :math:`y_2` and, optionally, observed covariate
features :math:`\Xi_2 = \xi(W_2)`. As in the code, each ridge penalises every weight
(intercepts included) with the penalty scaled by the sample size, and a column of ones is
appended to the *predicted* treatment features and to the covariate features:

.. math::

    \hat V^\top = (\Phi_1^\top\Phi_1 + n\lambda_1 I)^{-1}\Phi_1^\top\Psi_1, \qquad
    P = [\Phi_2\hat V^\top,\ 1], \qquad C = [\Xi_2,\ 1] \ (\text{or } C = 1),

    F_{i,(a,b)} = P_{ia}C_{ib} \ (\text{row-wise outer product, flattened } a\text{-major}), \qquad
    \hat u = (F^\top F + m\lambda_2 I)^{-1}F^\top y_2,

and :math:`\hat f(x, w) = \sum_{ab}[\psi(x), 1]_a [\xi(w), 1]_b\,U_{ab}` with
:math:`U = \hat u` reshaped to (k_x + 1) x (k_c). These minimise the stage losses
:math:`L_1 = \frac1n\|\Psi_1 - \Phi_1 V^\top\|_F^2 + \lambda_1\|V\|_F^2` and
:math:`L_2 = \frac1m\|y_2 - F u\|^2 + \lambda_2\|u\|^2` (the code's sums of squares plus
:math:`\lambda N\|W\|^2`, divided by N). Because :math:`\hat V` and :math:`\hat u` are exact
minimisers, the envelope theorem gives the gradients of the profiled losses (derived here,
checked against finite differences in ``tests/properties/test_dfiv_properties.py``): with
:math:`r = y_2 - F\hat u` and :math:`D = -\frac2m\,\mathrm{diag}(r)`,

.. math::

    \frac{\partial L_1}{\partial \Phi_1} = -\frac2n (\Psi_1 - \Phi_1\hat V^\top)\hat V, \qquad
    \frac{\partial L_2}{\partial P} = D\,C U^\top, \qquad
    \frac{\partial L_2}{\partial C} = D\,P U,

    \frac{\partial L_2}{\partial \Psi_1} = \Phi_1(\Phi_1^\top\Phi_1 + n\lambda_1 I)^{-1}
    \Phi_2^\top \Big[\frac{\partial L_2}{\partial P}\Big]_{:, :k_x}, \qquad
    \frac{\partial L_2}{\partial \Xi_2} = \Big[\frac{\partial L_2}{\partial C}\Big]_{:, :k_w}.

Without covariates C is the column of ones and :math:`F = P`. ``intercept=False`` appends no
ones anywhere (raw features, as in random-feature KIV). Systems are solved by Cholesky
factorisation (symmetric positive definite for :math:`\lambda > 0`); with
:math:`\lambda = 0` a least-squares solve is used.
"""
from dataclasses import dataclass

import numpy as np
from scipy import linalg


STAGE1_LOSS, OUTCOME_LOSS = 0, 1
r"""The profiled losses that DFIV's feature networks descend, as the step kernels name them:
:math:`L_1` in the instrument features :math:`\Phi_1` (targets :math:`\Psi_1`), and
:math:`L_2` in the covariate features :math:`\Xi_2` (the predicted treatment features
:math:`\Phi_2\hat V^\top` and :math:`y_2` held fixed)."""


def with_intercept(features):
    """``[features, 1]``: the column of ones that the reference code appends."""
    return np.hstack([features, np.ones((features.shape[0], 1))])


def _gram_factor(a, lam):
    gram = a.T @ a
    gram[np.diag_indices_from(gram)] += a.shape[0] * lam
    return linalg.cho_factor(gram, lower=True, check_finite=False)


def ridge_solve(a, b, lam):
    r"""Minimiser of :math:`\frac1N\|b - aW\|^2 + \lambda\|W\|^2`: :math:`(a^\top a + N\lambda I)^{-1}a^\top b`."""
    if lam == 0.0:
        return np.linalg.lstsq(a, b, rcond=None)[0]
    return linalg.cho_solve(_gram_factor(a, lam), a.T @ b, check_finite=False)


def _blocks(treatment, covariates, intercept):
    p = with_intercept(treatment) if intercept else np.asarray(treatment, dtype=float)
    if covariates is None:
        return p, np.ones((p.shape[0], 1))
    return p, with_intercept(covariates) if intercept else np.asarray(covariates, dtype=float)


def _outer_rows(p, c):
    return (p[:, :, None] * c[:, None, :]).reshape(p.shape[0], -1)


def outcome_features(treatment, covariates=None, intercept=True):
    r"""Stage-2 design :math:`F_{i,(a,b)} = P_{ia}C_{ib}` from treatment features and optional covariate features."""
    return _outer_rows(*_blocks(treatment, covariates, intercept))


@dataclass(frozen=True)
class TwoStageFit:
    """Stage weights, the stage-2 design and its losses.

    Attributes
    ----------
    stage1 : ndarray, shape (k_z, k_x), or None
        :math:`\\hat V^\\top` (None for a stage-2-only solve, :func:`solve_stage2`).
    stage2 : ndarray, shape (K,)
        :math:`\\hat u`, K = (k_x + 1) k_c with an intercept.
    treatment_block, covariate_block : ndarray, shapes (m, k_x + 1) and (m, k_c)
        P and C of the module docstring.
    residual : ndarray, shape (m,)
        :math:`r = y_2 - F\\hat u`.
    stage2_loss : float
        :math:`\\frac1m\\|r\\|^2 + \\lambda_2\\|\\hat u\\|^2`.
    intercept : bool
        Whether ones columns were appended to P and C.
    """

    stage1: object
    stage2: np.ndarray
    treatment_block: np.ndarray
    covariate_block: np.ndarray
    residual: np.ndarray
    stage2_loss: float
    intercept: bool = True

    def outcome_gradients(self):
        r""":math:`(\partial L_2/\partial P,\ \partial L_2/\partial C)` at :math:`\hat u` (envelope theorem)."""
        p, c = self.treatment_block, self.covariate_block
        u = self.stage2.reshape(p.shape[1], c.shape[1])
        d = (-2.0 / self.residual.size) * self.residual[:, None]
        return d * (c @ u.T), d * (p @ u)


def solve_stage2(predicted, y2, lam2, covariates=None, intercept=True):
    """Stage 2 alone on given predicted treatment features :math:`\\Phi_2\\hat V^\\top`; ``stage1`` is None."""
    p, c = _blocks(predicted, covariates, intercept)
    f = _outer_rows(p, c)
    u = ridge_solve(f, y2, lam2)
    r = y2 - f @ u
    return TwoStageFit(None, u, p, c, r, float(r @ r / r.size + lam2 * u @ u), intercept)


def solve(phi1, psi1, phi2, y2, lam1, lam2, covariates=None, intercept=True):
    """Both closed forms for fixed features; see the module docstring."""
    vt = ridge_solve(phi1, psi1, lam1)
    fit = solve_stage2(phi2 @ vt, y2, lam2, covariates, intercept)
    return TwoStageFit(vt, fit.stage2, fit.treatment_block, fit.covariate_block, fit.residual, fit.stage2_loss,
                       intercept)


def predict(fit, treatment, covariates=None):
    r""":math:`\hat f = F(\psi, \xi)\hat u` on new treatment (and covariate) features."""
    return outcome_features(treatment, covariates, fit.intercept) @ fit.stage2


def predict_instrument(fit, phi, covariates=None):
    r"""Estimated :math:`E[\hat f(X, W)|Z, W] = F(\phi\hat V^\top, \xi)\hat u` (validation losses)."""
    return outcome_features(phi @ fit.stage1, covariates, fit.intercept) @ fit.stage2


def stage1_gradient(phi1, psi1, vt):
    """dL1/dPhi1 at the stage-1 solution ``vt`` (treatment features held fixed)."""
    return (-2.0 / phi1.shape[0]) * (psi1 - phi1 @ vt) @ vt.T


def stage2_gradient(phi1, phi2, fit, lam1):
    """dL2/dPsi1 of the profiled stage-2 loss (envelope gradient through the stage-1 solution)."""
    grad_p = fit.outcome_gradients()[0][:, :fit.stage1.shape[1]]
    return phi1 @ linalg.cho_solve(_gram_factor(phi1, lam1), phi2.T @ grad_p, check_finite=False)


def covariate_gradient(fit):
    """dL2/dXi2: the gradient of the stage-2 loss in the covariate features (the ones column dropped)."""
    grad_c = fit.outcome_gradients()[1]
    return grad_c[:, :-1] if fit.intercept else grad_c
