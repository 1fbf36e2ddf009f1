"""theorytk.icl public API: training reproduces GD, divergence is reported, bad inputs are named."""
import numpy as np
import pytest

from theorytk.icl import (LinearSelfAttention, RegressionPrompts, TrainingDiverged, conditional_gd_error, cot_error,
                          edge_step, gd_rollout_error, iterations_needed, newton_schulz, one_step_floor,
                          regression_prompts, train, wishart_moments)


def test_training_on_cot_loss_learns_gradient_descent():
    eta = 0.5
    result = train(LinearSelfAttention(2), n=8, prompts_per_step=64, steps=600, seed=0, cot_steps=2, eta=eta, lr=1e-2)
    m = result.model
    assert result.losses[-1] < 1e-2 * result.losses[0]
    np.testing.assert_allclose(m.block("V", "w", "x") @ m.block("W", "x", "w"), -eta * np.eye(2), atol=0.05)
    p = regression_prompts(2, 8, 500, seed=1)
    np.testing.assert_allclose(m.rollout_error(p, 2).mean(0), gd_rollout_error(p, eta, 2).mean(0), rtol=0.1)


def test_training_is_deterministic_and_gd_optimizer_runs():
    kw = dict(n=6, prompts_per_step=16, steps=20, seed=3, loss="no_cot", optimizer="gd", lr=0.05)
    a, b = train(LinearSelfAttention(2), **kw), train(LinearSelfAttention(2), **kw)
    np.testing.assert_array_equal(a.model.V, b.model.V)
    assert np.all(np.isfinite(a.losses))


def test_looped_preconditioner_training_learns_the_one_step_optimum_and_trains_only_v31():
    d, n = 2, 8
    result = train(LinearSelfAttention(d), n=n, prompts_per_step=128, steps=400, seed=0, loss="looped", loops=1,
                   params="preconditioner", lr=1e-2)
    m = result.model
    np.testing.assert_allclose(m.block("V", "w", "x"), -n / (n + d + 1) * np.eye(d), atol=0.03)
    construction = LinearSelfAttention.gradient_descent(d, 1.0)
    np.testing.assert_array_equal(m.W, construction.W)            # W is fixed
    rest = np.array(m.V)
    rest[d + 1:2 * d + 1, :d] = 0.0
    assert not rest.any()                                         # only V31 moves
    full = train(LinearSelfAttention(d), n=n, prompts_per_step=16, steps=5, seed=0, loss="looped", loops=2)
    assert np.count_nonzero(full.model.W) > 2 * d                  # "all" trains every entry


def test_general_covariance_prompts():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    sigma = A @ A.T + 0.5 * np.eye(3)
    p = regression_prompts(3, 50, 2000, seed=1, covariance=sigma)
    emp = p.covariances().mean(axis=0)
    np.testing.assert_allclose(emp, sigma, atol=6 * np.abs(sigma).max() / np.sqrt(2000 * 50))
    np.testing.assert_allclose(p.y, np.einsum("bja,ba->bj", p.X, p.w_star))
    np.testing.assert_array_equal(p.sigma, sigma)
    assert np.array_equal(regression_prompts(2, 3, 4, 0, scale=2.0).sigma, 4 * np.eye(2))
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    np.testing.assert_allclose(p.rotated(Q).sigma, Q @ sigma @ Q.T)


def test_conditional_gd_error_is_the_mean_over_w_star():
    p = regression_prompts(3, 5, 4, seed=2)
    steps, eta = 3, 0.3
    cond = conditional_gd_error(p, eta, steps)
    # E over w* ~ N(0, I) of ||(I - eta S)^k w*||^2 = sum over the basis vectors e_i
    total = np.zeros_like(cond)
    for i in range(3):
        w = np.zeros((4, 3))
        w[:, i] = 1.0
        basis = RegressionPrompts(p.X, np.einsum("bja,ba->bj", p.X, w), w)
        total += gd_rollout_error(basis, eta, steps)
    np.testing.assert_allclose(cond, total, rtol=1e-12)


def test_divergence_is_reported_with_step_and_hint():
    p = regression_prompts(3, 6, 50, seed=0)
    with pytest.raises(TrainingDiverged, match="blew up at step .*hint"):
        LinearSelfAttention.gradient_descent(3, 3.0).rollout_error(p, 400)
    with pytest.raises(TrainingDiverged, match="step .*hint: lower lr"):
        train(LinearSelfAttention(2), n=4, prompts_per_step=8, steps=200, seed=0, optimizer="gd", lr=1e4, cot_steps=3)


def test_closed_forms():
    assert one_step_floor(10, 20) == pytest.approx(110 / 31)
    assert cot_error(5, 10, 0.5, 1) == pytest.approx(2.0)
    assert cot_error(5, 10, 0.5, 2) == pytest.approx(1.2625)
    assert wishart_moments(1, 3)[2] == 15.0    # chi^2_3: E X^2 = 3 * 5
    assert edge_step(10, 40) == pytest.approx(4 / 9)


def test_newton_schulz_squares_the_residual():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    A = Q @ np.diag(np.linspace(1, 10, 5)) @ Q.T
    X, norms = newton_schulz(A, 6)
    rho = 9 / 11
    np.testing.assert_allclose(norms, rho ** (2.0 ** np.arange(7)), rtol=1e-9)
    assert iterations_needed(1e-10, rho) == 7


@pytest.mark.parametrize("call, match", [
    (lambda: regression_prompts(0, 5, 2, 0), "d must be >= 1"),
    (lambda: regression_prompts(3, 0, 2, 0), "n must be >= 1"),
    (lambda: gd_rollout_error(regression_prompts(2, 3, 2, 0), -1.0, 2), "eta must be > 0"),
    (lambda: LinearSelfAttention.gradient_descent(2, 0.0), "eta must be > 0"),
    (lambda: train(LinearSelfAttention(2), n=3, prompts_per_step=2, steps=1, seed=0, loss="bogus"), "loss must be one of"),
    (lambda: LinearSelfAttention(2, V=np.zeros((3, 3))), r"V must have shape \(6, 6\)"),
    (lambda: cot_error(3, 4, 0.1, 3), "steps must be <= 2"),
    (lambda: iterations_needed(2.0, 0.5), "eps must be <= 1"),
    (lambda: train(LinearSelfAttention(2), n=3, prompts_per_step=2, steps=1, seed=0, params="some"), "params must be one of"),
    (lambda: train(LinearSelfAttention(2), n=3, prompts_per_step=2, steps=1, seed=0, loss="looped", loops=0),
     "loops must be >= 1"),
    (lambda: LinearSelfAttention(2).looped_error(regression_prompts(2, 3, 2, 0), 0), "loops must be >= 1"),
    (lambda: regression_prompts(2, 3, 2, 0, covariance=np.diag([1.0, -1.0])), "covariance must be positive definite"),
    (lambda: regression_prompts(2, 3, 2, 0, covariance=np.array([[1.0, 0.5], [0.0, 1.0]])), "covariance must be symmetric"),
    (lambda: regression_prompts(2, 3, 2, 0, covariance=np.eye(3)), r"covariance must have shape \(2, 2\)"),
    (lambda: regression_prompts(2, 3, 2, 0, scale=2.0, covariance=np.eye(2)), "give scale or covariance"),
    (lambda: conditional_gd_error(regression_prompts(2, 3, 2, 0), 0.0, 1), "eta must be > 0"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_finite_prompts_and_wrong_types():
    from theorytk.icl import RegressionPrompts
    p = regression_prompts(2, 3, 2, 0)
    X = p.X.copy()
    X[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        RegressionPrompts(X, p.y, p.w_star)
    with pytest.raises(TypeError, match="prompts must be RegressionPrompts"):
        gd_rollout_error(p.X, 0.1, 2)
    with pytest.raises(ValueError, match="prompts have d = 2, the model has d = 3"):
        LinearSelfAttention(3).rollout_error(p, 1)
