"""Hypothesis properties of theorytk.icl.

* Formula twins: the numeric closed forms of theorytk.icl (floor, Wishart moments, E_1, E_2)
  equal the sympy theorems of proofs.icl_cot at random admissible (d, n, eta).
* The floor is a lower bound: for random (V, W) the no-CoT error of the layer is >= the floor
  minus 4 SE (SE over 3000 prompts; 4 rather than 3 because hypothesis draws many examples).
* The GD construction reproduces gradient descent for random prompts (relative 1e-10: a few
  roundings per step).
* Rollouts of an isotropic layer (scalar blocks) are equivariant under rotations of (x, w*).
* The Newton-Schulz layer squares the residual of any well-conditioned (non-symmetric) matrix.
* The looped step gamma_2 minimises E_2(gamma), the two-loop polynomial optimum is below it, and
  the general-covariance floor is below the error of any isotropic one-step layer (random
  admissible parameters).
* The looped GD construction reproduces gradient descent; looped rollouts of an isotropic layer
  are rotation equivariant, with the prompts' covariance rotated too.
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs import icl_cot as thm
from theorytk.icl import (LinearSelfAttention, blocks, cot_error, gd_rollout_error, ns_layer, one_step_floor,
                          regression_prompts, wishart_moments)
from theorytk.icl.newton_schulz import lsa
from theorytk.testing.strategies import seeds

dims = st.integers(1, 6)
sizes = st.integers(1, 30)
steps = st.floats(0.01, 1.5)


@settings(max_examples=40, deadline=None)
@given(dims, sizes, steps)
def test_closed_forms_equal_the_theorems(d, n, eta):
    assert np.isclose(one_step_floor(d, n), float(thm.NO_COT_FLOOR.evaluate(d=d, n=n)), rtol=1e-13)
    for m, theorem in enumerate(thm.WISHART, start=1):
        assert np.isclose(wishart_moments(d, n)[m], float(theorem.evaluate(d=d, n=n)), rtol=1e-13)
    for k in (1, 2):
        assert np.isclose(cot_error(d, n, eta, k), float(thm.COT_ERROR[k].evaluate(d=d, n=n, eta=eta)), rtol=1e-9,
                          atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(2, 12), seeds(), st.floats(0.05, 1.0))
def test_random_layers_never_beat_the_floor(d, n, seed, scale):
    rng = np.random.default_rng(seed)
    D = 2 * d + 2
    model = LinearSelfAttention(d, scale * rng.standard_normal((D, D)), scale * rng.standard_normal((D, D)))
    errors = model.rollout_error(regression_prompts(d, n, 3000, seed), 1)[:, 0]
    se = errors.std(ddof=1) / np.sqrt(errors.size)
    assert errors.mean() >= one_step_floor(d, n) - 4 * se


@settings(max_examples=25, deadline=None)
@given(dims, sizes, seeds(), st.floats(0.01, 0.5), st.integers(1, 6))
def test_construction_reproduces_gradient_descent(d, n, seed, eta, k):
    prompts = regression_prompts(d, n, 16, seed)
    model = LinearSelfAttention.gradient_descent(d, eta)
    np.testing.assert_allclose(model.rollout_error(prompts, k), gd_rollout_error(prompts, eta, k), rtol=1e-10,
                               atol=1e-13)


def _isotropic_model(d, coef):
    """An LSA layer whose blocks are multiples of I_d (and a scalar y-one entry): rotation-equivariant by design."""
    D, blk = 2 * d + 2, blocks(d)
    V, W = np.zeros((D, D)), np.zeros((D, D))
    V[blk["w"], blk["x"]] = coef[0] * np.eye(d)
    V[blk["w"], blk["w"]] = coef[1] * np.eye(d)
    W[blk["x"], blk["w"]] = coef[2] * np.eye(d)
    W[blk["y"], blk["one"]] = coef[3]
    return LinearSelfAttention(d, V, W)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 5), st.integers(2, 12), seeds(), st.lists(st.floats(-0.6, 0.6), min_size=4, max_size=4))
def test_isotropic_rollout_is_rotation_equivariant(d, n, seed, coef):
    model = _isotropic_model(d, coef)
    prompts = regression_prompts(d, n, 8, seed)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    np.testing.assert_allclose(model.rollout_error(prompts.rotated(Q), 3), model.rollout_error(prompts, 3),
                               rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), seeds(), st.floats(0.05, 0.9))
def test_newton_schulz_layer_squares_the_residual(d, seed, radius):
    rng = np.random.default_rng(seed)
    A = np.eye(d) + 0.3 * rng.standard_normal((d, d)) / np.sqrt(d)
    R0 = rng.standard_normal((d, d))
    R0 *= radius / np.linalg.norm(R0, 2)
    X = np.linalg.solve(A, np.eye(d) - R0)       # I - A X = R0
    P, Q = ns_layer(d)
    X1 = lsa(np.vstack([A.T, X, np.eye(d)]), P, Q)[d:2 * d]
    np.testing.assert_allclose(np.eye(d) - A @ X1, R0 @ R0, atol=1e-10 * max(1.0, np.linalg.cond(A)))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 12), st.integers(1, 40), st.floats(0.01, 2.0))
def test_looped_step_minimises_and_the_polynomial_family_is_lower(d, n, gamma):
    step = thm.looped_step(2, d, n)
    best = float(thm.COT_ERROR[2].evaluate(d=d, n=n, eta=step))
    assert best <= float(thm.COT_ERROR[2].evaluate(d=d, n=n, eta=gamma)) + 1e-9 * max(1.0, best)
    assert float(thm.LOOPED_POLYNOMIAL_K2.evaluate(d=d, n=n)) <= best * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.floats(0.05, 5.0), st.floats(0.05, 5.0), st.integers(1, 40),
       st.floats(0.0, 2.0))
def test_general_floor_is_below_every_isotropic_layer(d1, d2, s1, s2, n, v):
    floor = float(thm.NO_COT_FLOOR_GENERAL.evaluate(d1=d1, d2=d2, s1=s1, s2=s2, n=n))
    error = float(thm.NO_COT_ERROR_GENERAL.evaluate(d1=d1, d2=d2, s1=s1, s2=s2, n=n, v=v))
    assert floor <= error * (1 + 1e-12)


@settings(max_examples=20, deadline=None)
@given(dims, sizes, seeds(), st.floats(0.01, 0.5), st.integers(1, 6))
def test_looped_construction_reproduces_gradient_descent(d, n, seed, eta, k):
    prompts = regression_prompts(d, n, 16, seed)
    np.testing.assert_allclose(LinearSelfAttention.gradient_descent(d, eta).looped_error(prompts, k),
                               gd_rollout_error(prompts, eta, k), rtol=1e-10, atol=1e-13)


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 5), st.integers(2, 12), seeds(), st.lists(st.floats(-0.6, 0.6), min_size=4, max_size=4))
def test_isotropic_looped_rollout_is_rotation_equivariant_under_a_general_covariance(d, n, seed, coef):
    model = _isotropic_model(d, coef)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d))
    prompts = regression_prompts(d, n, 8, seed, covariance=A @ A.T + 0.1 * np.eye(d))
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    np.testing.assert_allclose(model.looped_error(prompts.rotated(Q), 3), model.looped_error(prompts, 3),
                               rtol=1e-9, atol=1e-12)
