"""theorytk.icl kernels: kernel == NumPy reference, gradients == finite differences, CoT construction == GD."""
import numpy as np
import pytest

from theorytk.icl import LinearSelfAttention, gd_rollout_error, regression_prompts, reference
from theorytk.icl import _kernels


def _params(d, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    D = 2 * d + 2
    return scale * rng.standard_normal((D, D)), scale * rng.standard_normal((D, D))


@pytest.mark.parametrize("mode", [_kernels.COT, _kernels.NO_COT])
def test_loss_and_gradients_kernel_equals_reference(mode):
    p = regression_prompts(d=3, n=7, batch=33, seed=1)
    V, W = _params(3, 2)
    a = _kernels.loss_and_gradients(V, W, p.X, p.y, p.w_star, 0.4, 3, mode)
    b = reference.loss_and_gradients(V, W, p.X, p.y, p.w_star, 0.4, 3, mode)
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a[2], b[2], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", [_kernels.COT, _kernels.NO_COT])
def test_gradients_match_finite_differences(mode):
    d, h = 2, 1e-6
    p = regression_prompts(d=d, n=5, batch=8, seed=3)
    V, W = _params(d, 4)
    _, gV, gW = _kernels.loss_and_gradients(V, W, p.X, p.y, p.w_star, 0.5, 3, mode)

    def loss(V_, W_):
        return reference.loss_and_gradients(V_, W_, p.X, p.y, p.w_star, 0.5, 3, mode)[0]

    for grad, which in ((gV, 0), (gW, 1)):
        fd = np.zeros_like(grad)
        for idx in np.ndindex(grad.shape):
            E = np.zeros_like(grad)
            E[idx] = h
            plus = loss(V + E, W) if which == 0 else loss(V, W + E)
            minus = loss(V - E, W) if which == 0 else loss(V, W - E)
            fd[idx] = (plus - minus) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    assert np.abs(gV).max() > 1e-3 and np.abs(gW).max() > 1e-3   # the check is not vacuous


@pytest.mark.parametrize("teacher, looped", [(0.0, False), (0.3, False), (0.0, True)])
def test_rollout_kernel_equals_reference(teacher, looped):
    p = regression_prompts(d=3, n=6, batch=20, seed=5)
    V, W = _params(3, 6, scale=0.2)
    a = _kernels.rollout(V, W, p.X, p.y, p.w_star, 4, teacher, looped)
    b = reference.rollout(V, W, p.X, p.y, p.w_star, 4, teacher, looped)
    np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("every", [False, True])
def test_looped_loss_and_gradients_kernel_equals_reference_and_finite_differences(every):
    d, h, K = 2, 1e-6, 3
    p = regression_prompts(d=d, n=5, batch=8, seed=3)
    V, W = _params(d, 4, scale=0.2)
    loss, gV, gW = _kernels.looped_loss_and_gradients(V, W, p.X, p.y, p.w_star, K, every)
    ref = reference.looped_loss_and_gradients(V, W, p.X, p.y, p.w_star, K, every)
    assert loss == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(gV, ref[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gW, ref[2], rtol=1e-10, atol=1e-12)

    def value(V_, W_):
        return reference.looped_loss_and_gradients(V_, W_, p.X, p.y, p.w_star, K, every)[0]

    for grad, which in ((gV, 0), (gW, 1)):
        fd = np.zeros_like(grad)
        for idx in np.ndindex(grad.shape):
            E = np.zeros_like(grad)
            E[idx] = h
            fd[idx] = ((value(V + E, W) - value(V - E, W)) if which == 0 else (value(V, W + E) - value(V, W - E))) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    assert np.abs(gV).max() > 1e-3 and np.abs(gW).max() > 1e-3   # the check is not vacuous


def test_looped_loss_is_the_mean_final_error_and_one_loop_is_the_no_cot_loss():
    p = regression_prompts(d=3, n=7, batch=25, seed=9)
    V, W = _params(3, 10, scale=0.2)
    model = LinearSelfAttention(3, V, W)
    loss = _kernels.looped_loss_and_gradients(V, W, p.X, p.y, p.w_star, 3, False)[0]
    assert loss == pytest.approx(0.5 * model.looped_error(p, 3)[:, -1].mean(), rel=1e-12)
    every = _kernels.looped_loss_and_gradients(V, W, p.X, p.y, p.w_star, 3, True)[0]
    assert every == pytest.approx(0.5 * model.looped_error(p, 3).sum(axis=1).mean(), rel=1e-12)
    one = _kernels.looped_loss_and_gradients(V, W, p.X, p.y, p.w_star, 1, False)
    no_cot = _kernels.loss_and_gradients(V, W, p.X, p.y, p.w_star, 0.5, 1, _kernels.NO_COT)
    for a, b in zip(one, no_cot):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_looped_construction_is_gradient_descent():
    p = regression_prompts(d=4, n=9, batch=30, seed=11)
    np.testing.assert_allclose(LinearSelfAttention.gradient_descent(4, 0.3).looped_error(p, 5),
                               gd_rollout_error(p, 0.3, 5), rtol=1e-11)


def test_construction_is_gradient_descent_and_has_zero_cot_loss():
    p = regression_prompts(d=4, n=9, batch=50, seed=7)
    model = LinearSelfAttention.gradient_descent(4, 0.3)
    np.testing.assert_allclose(model.rollout_error(p, 6), gd_rollout_error(p, 0.3, 6), rtol=1e-11)
    loss, gV, gW = model.loss(p, "cot", cot_steps=5, eta=0.3)
    assert loss < 1e-25 and np.abs(gV).max() < 1e-12 and np.abs(gW).max() < 1e-12
    # a different step is not a stationary point
    assert model.loss(p, "cot", cot_steps=5, eta=0.4)[0] > 1e-4


def test_teacher_forcing_differs_from_autoregressive_for_a_wrong_step():
    p = regression_prompts(d=3, n=12, batch=30, seed=8)
    model = LinearSelfAttention.gradient_descent(3, 0.2)
    auto = model.rollout_error(p, 3)
    forced = model.rollout_error(p, 3, teacher_eta=0.4)
    np.testing.assert_allclose(auto[:, 0], forced[:, 0], rtol=1e-12)   # step 1 has the same context
    assert np.abs(auto[:, 2] - forced[:, 2]).max() > 1e-3


def test_prompt_sampler_equals_its_numpy_twin_on_one_and_two_threads():
    from tests._threads import on_one_and_two_threads

    batch, n, d, scale, seed = 9, 7, 3, 1.5, np.uint64(2**63 + 12345)

    def draw():
        X, y, wstar = np.zeros((batch, n, d)), np.zeros((batch, n)), np.zeros((batch, d))
        _kernels.sample_prompts(X, y, wstar, scale, seed)
        return X, y, wstar

    one, two = on_one_and_two_threads(draw)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    X, y, wstar = reference.sample_prompts(batch, n, d, scale, seed)
    np.testing.assert_array_equal(one[0], X)          # the same streams, the same Box-Muller pairs
    np.testing.assert_array_equal(one[2], wstar)
    np.testing.assert_allclose(one[1], y, rtol=1e-14, atol=1e-14)   # y = X w*: summation order only


def test_prompt_sampler_draws_standard_normals():
    batch, n, d = 2000, 10, 5
    X, y, wstar = np.zeros((batch, n, d)), np.zeros((batch, n)), np.zeros((batch, d))
    _kernels.sample_prompts(X, y, wstar, 1.0, np.uint64(7))
    values = np.concatenate([X.ravel(), wstar.ravel()])
    se = 1.0 / np.sqrt(values.size)
    assert abs(values.mean()) < 4 * se and abs(values.var() - 1.0) < 4 * np.sqrt(2.0) * se
    assert abs(np.mean(values**4) - 3.0) < 4 * np.sqrt(96.0) * se        # kurtosis of a normal
    other = np.zeros_like(X)
    _kernels.sample_prompts(other, np.zeros_like(y), np.zeros_like(wstar), 1.0, np.uint64(8))
    assert abs(np.corrcoef(X.ravel(), other.ravel())[0, 1]) < 4 * se   # another seed, unrelated prompts
