"""Property tests of the DFIV closed forms, envelope gradients, reductions and invariances (notes Sec. 5)."""
import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk.dfiv import reference, two_stage
from theorytk.dfiv.data import Sample, circle_embedding, circle_iv
from theorytk.dfiv.dfiv import DFIV
from theorytk.dfiv.kernel_iv import KernelIV

seeds = st.integers(0, 2**32 - 1)
lams = st.floats(1e-3, 1.0)


def _features(seed, n=40, m=30, kz=5, kx=3, kw=0):
    """Instrument features with intercept, treatment features without, stage-2 outcomes, covariates (or None)."""
    rng = np.random.default_rng(seed)
    phi1 = two_stage.with_intercept(rng.standard_normal((n, kz)))
    psi1 = np.tanh(phi1[:, :kx] + 0.3 * rng.standard_normal((n, kx)))
    phi2 = two_stage.with_intercept(rng.standard_normal((m, kz)))
    xi2 = np.maximum(rng.standard_normal((m, kw)), 0.0) if kw else None
    return phi1, psi1, phi2, rng.standard_normal(m), xi2


covariate_counts = st.sampled_from([0, 2])


@given(seeds, lams, lams, covariate_counts)
def test_closed_forms_equal_lstsq_on_the_stacked_system(seed, lam1, lam2, kw):
    phi1, psi1, phi2, y2, xi2 = _features(seed, kw=kw)
    n, m = len(phi1), len(phi2)
    fit = two_stage.solve(phi1, psi1, phi2, y2, lam1, lam2, xi2)
    stacked = np.vstack([phi1, np.sqrt(n * lam1) * np.eye(phi1.shape[1])])
    for j in range(psi1.shape[1]):  # stage 1, column by column
        target = np.concatenate([psi1[:, j], np.zeros(phi1.shape[1])])
        np.testing.assert_allclose(fit.stage1[:, j], np.linalg.lstsq(stacked, target, rcond=None)[0], rtol=1e-8,
                                   atol=1e-10)
    f2 = reference.outcome_design(phi2 @ fit.stage1, xi2)[0]
    assert f2.shape[1] == (psi1.shape[1] + 1) * (kw + 1)
    u = np.linalg.lstsq(np.vstack([f2, np.sqrt(m * lam2) * np.eye(f2.shape[1])]),
                        np.concatenate([y2, np.zeros(f2.shape[1])]), rcond=None)[0]
    np.testing.assert_allclose(fit.stage2, u, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.stage1, reference.stage1_weights(phi1, psi1, lam1), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.stage2, reference.stage2_weights(f2, y2, lam2), rtol=1e-8, atol=1e-10)


def _profiled_stage2_loss(phi1, psi1, phi2, y2, lam1, lam2, xi2):
    return two_stage.solve(phi1, psi1, phi2, y2, lam1, lam2, xi2).stage2_loss


def _central_difference(loss, a, i, j, h=1e-6):
    up, down = a.copy(), a.copy()
    up[i, j] += h
    down[i, j] -= h
    return (loss(up) - loss(down)) / (2 * h)


@settings(max_examples=20)
@given(seeds, lams, lams, covariate_counts)
def test_envelope_gradients_equal_finite_differences_of_the_profiled_loss(seed, lam1, lam2, kw):
    phi1, psi1, phi2, y2, xi2 = _features(seed, n=12, m=10, kz=3, kx=2, kw=kw)
    fit = two_stage.solve(phi1, psi1, phi2, y2, lam1, lam2, xi2)
    grad = two_stage.stage2_gradient(phi1, phi2, fit, lam1)
    ref_psi, ref_xi = reference.envelope_gradients(phi1, psi1, phi2, y2, lam1, lam2, xi2)
    np.testing.assert_allclose(grad, ref_psi, rtol=1e-9, atol=1e-12)
    numeric = np.array([[_central_difference(lambda a: _profiled_stage2_loss(phi1, a, phi2, y2, lam1, lam2, xi2),
                                             psi1, i, j) for j in range(psi1.shape[1])] for i in range(len(psi1))])
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)
    if kw:  # the covariate gradient, with the predicted treatment features held fixed
        grad_xi = two_stage.covariate_gradient(fit)
        np.testing.assert_allclose(grad_xi, ref_xi, rtol=1e-9, atol=1e-12)
        numeric = np.array([[_central_difference(lambda a: _profiled_stage2_loss(phi1, psi1, phi2, y2, lam1, lam2, a),
                                                 xi2, i, j) for j in range(kw)] for i in range(len(xi2))])
        np.testing.assert_allclose(grad_xi, numeric, rtol=1e-5, atol=1e-8)
    # the stage-1 gradient likewise (treatment features fixed)
    g1 = two_stage.stage1_gradient(phi1, psi1, fit.stage1)

    def loss1(phi):
        vt = two_stage.ridge_solve(phi, psi1, lam1)
        return np.sum((psi1 - phi @ vt) ** 2) / len(phi) + lam1 * np.sum(vt**2)

    assert abs(g1[3, 1] - _central_difference(loss1, phi1, 3, 1)) <= 1e-5 * max(1.0, abs(g1[3, 1]))


@given(seeds, lams)
def test_no_endogeneity_reduces_to_ridge(seed, lam2):
    """Z = X, phi = psi and lam1 -> 0: V = I and DFIV's stage 2 is ridge of y on [psi(x), 1]."""
    phi1 = _features(seed, n=50)[0]
    psi = phi1[:, :-1]
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(50)
    fit = two_stage.solve(phi1, psi, phi1, y, 1e-12, lam2)
    np.testing.assert_allclose(fit.stage1, np.eye(*fit.stage1.shape), atol=1e-7)
    ridge = np.linalg.solve(phi1.T @ phi1 + 50 * lam2 * np.eye(phi1.shape[1]), phi1.T @ y)
    np.testing.assert_allclose(fit.stage2, ridge, rtol=1e-6, atol=1e-8)


@settings(max_examples=15)
@given(seeds, st.floats(1e-3, 1e-1), st.floats(1e-3, 1e-1))
def test_linear_kernel_kiv_equals_frozen_feature_2sls(seed, lam1, lam2):
    rng = np.random.default_rng(seed)
    n, m, kx, kz = 40, 35, 3, 4
    z1, z2 = rng.standard_normal((n, kz)), rng.standard_normal((m, kz))
    x1 = z1[:, :kx] + 0.5 * rng.standard_normal((n, kx))
    x2 = z2[:, :kx] + 0.5 * rng.standard_normal((m, kx))
    stage1, stage2 = Sample(x1, z1, rng.standard_normal(n)), Sample(x2, z2, rng.standard_normal(m))
    kiv = KernelIV(lam1=lam1, lam2=lam2, kernel="linear").fit(stage1, stage2)
    primal = two_stage.solve(z1, x1, z2, stage2.y, lam1, lam2, intercept=False)  # the raw inputs are the features
    x_new = rng.standard_normal((7, kx))
    np.testing.assert_allclose(kiv.predict(x_new), x_new @ primal.stage2, rtol=1e-6, atol=1e-8)


def _small_dfiv(backend="numba"):
    return DFIV(treatment_layers=(8,), instrument_layers=(8,), treatment_features=4, instrument_features=5,
                lam1=1e-2, lam2=1e-2, epochs=8, stage1_iter=2, lr=1e-2, treatment_input=circle_embedding,
                instrument_input=circle_embedding, backend=backend)


def _permuted(sample, perm):
    return Sample(sample.x[perm], sample.z[perm], sample.y[perm])


@settings(max_examples=8)
@given(seeds, st.floats(-5.0, 5.0).filter(lambda c: abs(c) > 0.1))
def test_permutation_invariance_and_y_scaling_equivariance(seed, c):
    data = circle_iv(120, "kink", seed=seed % 1000)
    rng = np.random.default_rng(seed)
    x = data.test_x[::50]
    base = _small_dfiv().fit(data.stage1, data.stage2, seed=1).predict(x)
    perm1, perm2 = rng.permutation(data.stage1.size), rng.permutation(data.stage2.size)
    permuted = _small_dfiv().fit(_permuted(data.stage1, perm1), _permuted(data.stage2, perm2), seed=1).predict(x)
    np.testing.assert_allclose(permuted, base, rtol=1e-6, atol=1e-8)
    s2 = data.stage2
    scaled = _small_dfiv().fit(data.stage1, Sample(s2.x, s2.z, c * s2.y), seed=1).predict(x)
    np.testing.assert_allclose(scaled, c * base, rtol=1e-6, atol=1e-8)
    # the closed forms alone: exact
    phi1, psi1, phi2, y2, xi2 = _features(seed, kw=2)
    u = two_stage.solve(phi1, psi1, phi2, y2, 0.1, 0.1, xi2).stage2
    np.testing.assert_allclose(two_stage.solve(phi1, psi1, phi2, c * y2, 0.1, 0.1, xi2).stage2, c * u, rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.25, 2.0), st.floats(0.0, 2.0), st.floats(0.1, 10.0), st.floats(0.1, 2.0), st.integers(100, 10**6))
def test_sieve_risk_curve_is_the_sympy_proxy_for_power_laws(s_prime, r, c, sigma, m):
    """Twin: ``CircleIV.sieve_risk_curve`` equals ``proofs.dfiv_rates.SIEVE_PROXY_RISK`` on pure power laws.

    With mu_k = k^-r, |c_{+-k}|^2 = C k^-(2s'+1) and noise variance sigma^2 plugged into the
    circle problem, the curve is the exact-sum proxy and the sympy form its integral
    approximation; by Euler-Maclaurin each sum's relative error is (2r+1)/(2J) (variance) and
    2s'/(2J) (bias) to leading order, at most 1.25e-4 at J = 20000, so rtol 1e-3 leaves 8x
    for the next order while a wrong power, factor 2 or missing 1/m would fail by orders.
    """
    from scipy.special import zeta

    from proofs import dfiv_rates as thm

    class PowerLaw(type(circle_iv(4, "jump", 0.5, n_test=1, seed=0))):
        def multiplier(self, k):
            return np.asarray(k, dtype=float) ** -r

        def stage2_noise_variance(self):
            return sigma**2

        def truncation_error(self, terms):   # sum_{|k| > J} C |k|^-(2s'+1), both signs
            return 2 * c * zeta(2 * s_prime + 1, np.asarray(terms) + 1.0)

    base = circle_iv(4, "jump", 0.5, n_test=1, seed=0)
    truth = PowerLaw(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    j = 20000
    got = float(truth.sieve_risk_curve(m, [j])[0])
    want = float(thm.SIEVE_PROXY_RISK.evaluate(J=j, n=m, s_prime=s_prime, r=r, C=c, sigma=sigma))
    assert np.isclose(got, want, rtol=1e-3), (got, want)
