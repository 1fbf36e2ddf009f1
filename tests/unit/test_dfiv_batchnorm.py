"""Batch normalisation in the DFIV feature networks (the authors' demand nets): kernels == NumPy twin == PyTorch,
backprop == finite differences, training vs evaluation statistics."""
import numpy as np
import pytest

from theorytk.dfiv import _kernels, reference, two_stage
from theorytk.dfiv.dfiv import STAGE_OPS
from theorytk.dfiv._stage_kernels import RidgeLoss, StepWork
from theorytk.dfiv.features import MLP
from tests._threads import on_one_and_two_threads

CASES = [((3, 7, 5, 2), "linear", (2,)), ((2, 9, 6, 4), "relu", (1,)), ((3, 6, 5, 3), "linear", (0, 2))]
"""(sizes, output, batch_norm): a normalised output layer (the instrument net), a normalised hidden layer
before a ReLU (the covariate net), two normalised layers."""


def _net(case, seed, backend="numba"):
    sizes, output, batch_norm = case
    net = MLP(sizes, np.random.default_rng(seed), backend, output=output, batch_norm=batch_norm)
    rng = np.random.default_rng(seed + 1)
    net.params[:] += 0.1 * rng.standard_normal(net.params.size)   # gamma != 1, beta != 0
    return net


def _pass(net, ops, x, g, training, steps=3):
    """``steps`` forward passes (running statistics move), the last one's features and (training) gradient."""
    net.ops = ops
    for _ in range(steps):
        acts = net.forward(x, training=training)
    if training:
        net.backward(acts, g)
    return acts.features.copy(), net.grad.copy(), net.stats.copy()


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("n", [2, 37, 3 * _kernels.BLOCK + 5])
@pytest.mark.parametrize("case", CASES)
def test_batch_norm_kernels_match_reference(case, n, training):
    """Row blocks with merged moments (numba) == whole-array mean/var (NumPy): features, gradients, statistics."""
    rng = np.random.default_rng(n)
    x, g = rng.standard_normal((n, case[0][0])), rng.standard_normal((n, case[0][-1]))
    got = _pass(_net(case, n), _kernels, x, g, training)
    want = _pass(_net(case, n), reference, x, g, training)
    # summation order only (blocked moments + FMA tiles vs NumPy's pairwise sums and BLAS), amplified
    # by the division by the batch standard deviation; the bias gradient of a normalised layer is 0
    # up to cancellation, a few ulps of the largest gradient: hence the absolute part, 1e-12 of the
    # largest entry. A wrong term is O(1) relative
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * np.abs(b).max())


def test_batch_norm_kernels_are_identical_on_one_and_two_threads():
    rng = np.random.default_rng(5)
    n = 5 * _kernels.BLOCK + 3
    x, g = rng.standard_normal((n, 3)), rng.standard_normal((n, 3))
    one, two = on_one_and_two_threads(lambda: _pass(_net(CASES[2], 5), _kernels, x, g, True))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("case", CASES)
def test_batch_norm_backprop_equals_finite_differences(case, backend):
    """d/dparams of sum(features * g) in training mode (batch statistics differentiated) == central differences."""
    net = _net(case, 3, backend)
    rng = np.random.default_rng(4)
    x, g = rng.standard_normal((13, case[0][0])), rng.standard_normal((13, case[0][-1]))
    net.backward(net.forward(x, training=True), g)
    analytic = net.grad.copy()
    numeric = np.empty_like(analytic)

    def loss():
        return np.sum(net.forward(x, training=True).features * g)   # running statistics do not enter it

    for i in range(net.params.size):
        old = net.params[i]
        net.params[i] = old + 1e-6
        up = loss()
        net.params[i] = old - 1e-6
        down = loss()
        net.params[i] = old
        numeric[i] = (up - down) / 2e-6
    # h = 1e-6: truncation O(h^2), rounding ~ eps |L| / h ~ 1e-9; a wrong normalisation term is O(1) relative
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_evaluation_uses_running_statistics():
    """Evaluation mode normalises by the running mean/variance (moved 0.1 per training pass towards the batch's, unbiased)."""
    net = _net(((2, 5, 3), "linear", (1,)), 6)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((40, 2)) * 3 + 1
    (w0, b0), (w1, b1) = reference._layers(net.params, net.sizes)
    product = np.maximum(x @ w0 + b0, 0.0) @ w1 + b1
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(4):
        net.forward(x, training=True)
        mean = 0.9 * mean + 0.1 * product.mean(axis=0)
        var = 0.9 * var + 0.1 * product.var(axis=0, ddof=1)
    np.testing.assert_allclose(net.stats[_kernels.RUNNING_MEAN], mean, rtol=1e-12)
    np.testing.assert_allclose(net.stats[_kernels.RUNNING_VAR], var, rtol=1e-12)
    gamma, beta = reference._norm_params(net.params, net.sizes, net.norm_at, 1)
    np.testing.assert_allclose(net(x), gamma * (product - mean) / np.sqrt(var + 1e-5) + beta, rtol=1e-12, atol=1e-12)
    trained = net.forward(x, training=True).features
    np.testing.assert_allclose(trained.mean(axis=0), beta, atol=1e-12)   # batch statistics: mean beta exactly


def _adam_steps(backend, kind, n, iters, seed):
    rng = np.random.default_rng(seed)
    stage1 = kind == two_stage.STAGE1_LOSS
    net = MLP((3, 9, 5), rng, backend, output="linear" if stage1 else "relu", batch_norm=(1,) if stage1 else (0,))
    x = rng.standard_normal((n, 3))
    predicted = np.empty((n, 0)) if stage1 else rng.standard_normal((n, 2))
    targets = rng.standard_normal((n, 2 if stage1 else 1))
    ops = STAGE_OPS[backend]
    loss = RidgeLoss(kind, predicted, targets, 0.1)
    feature_grad = np.full((n, 5), np.nan)
    net.train(x, iters, ops.adam_steps, loss, StepWork(feature_grad, *ops.scratch(loss, 5)), 1e-2, weight_decay=1e-3)
    return net.params, net.grad, feature_grad, net.stats


@pytest.mark.parametrize("kind", [two_stage.STAGE1_LOSS, two_stage.OUTCOME_LOSS])
@pytest.mark.parametrize("n", [2, 3 * _kernels.BLOCK + 5])
def test_adam_steps_with_batch_norm_match_reference(n, kind):
    """The fused Adam-step kernel with normalised layers (training mode) == the NumPy twin."""
    for got, want in zip(_adam_steps("numba", kind, n, 3, n), _adam_steps("numpy", kind, n, 3, n)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_batch_norm_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="batch_norm entry must be <= 1"):
        MLP((2, 3, 1), rng, batch_norm=(2,))
    with pytest.raises(ValueError, match="batch_norm entry must be >= -2"):
        MLP((2, 3, 1), rng, batch_norm=(-3,))
    with pytest.raises(ValueError, match="distinct"):
        MLP((2, 3, 1), rng, batch_norm=(1, -1))
    assert MLP((2, 3, 1), rng, batch_norm=(-2,)).batch_norm == (0,)
    net = MLP((2, 3, 1), rng, batch_norm=(0,))
    with pytest.raises(ValueError, match="at least 2 rows"):
        net.forward(np.ones((1, 2)), training=True)
    with pytest.raises(ValueError, match="training=True"):
        net.backward(net.forward(np.ones((4, 2))), np.ones((4, 1)))


def test_snapshot_restores_the_running_statistics():
    net = MLP((2, 3, 1), np.random.default_rng(1), batch_norm=(0,))
    x = np.random.default_rng(2).standard_normal((10, 2))
    saved, before = net.snapshot(), net(x)
    net.forward(x, training=True)
    assert not np.allclose(net(x), before)
    net.restore(saved)
    np.testing.assert_array_equal(net(x), before)


def _torch_twin(torch, net):
    """The PyTorch ``nn.Sequential`` of ``net`` (float64): Linear, BatchNorm1d where ``net`` normalises, ReLU."""
    from torch import nn

    modules = []
    layers = reference._layers(net.params, net.sizes)
    for l, (w, b) in enumerate(layers):
        linear = nn.Linear(*w.shape).double()
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b.copy()))
        modules.append(linear)
        if net.norm_at[l] >= 0:
            norm = nn.BatchNorm1d(w.shape[1]).double()
            gamma, beta = reference._norm_params(net.params, net.sizes, net.norm_at, l)
            with torch.no_grad():
                norm.weight.copy_(torch.from_numpy(gamma.copy()))
                norm.bias.copy_(torch.from_numpy(beta.copy()))
            modules.append(norm)
        if l < len(layers) - 1 or net.output_relu:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


@pytest.mark.parametrize("case", CASES[:2])
def test_batch_norm_equals_pytorch_batchnorm1d(case):
    """Our training/evaluation passes and gradients == PyTorch's Linear/BatchNorm1d/ReLU stack (the authors' layers)."""
    torch = pytest.importorskip("torch")
    net = _net(case, 8)
    twin = _torch_twin(torch, net)
    rng = np.random.default_rng(8)
    x, g = rng.standard_normal((50, case[0][0])) * 2 + 1, rng.standard_normal((50, case[0][-1]))
    ours = _pass(net, _kernels, x, g, True)
    twin.train()
    for _ in range(3):
        out = twin(torch.from_numpy(x))
    (out * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(ours[0], out.detach().numpy(), rtol=1e-10, atol=1e-12)
    norms = [m for m in twin if isinstance(m, torch.nn.BatchNorm1d)]
    np.testing.assert_allclose(ours[2][_kernels.RUNNING_MEAN], norms[0].running_mean.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours[2][_kernels.RUNNING_VAR], norms[0].running_var.numpy(), rtol=1e-10)
    linears = [m for m in twin if isinstance(m, torch.nn.Linear)]
    grads = [t for m in linears for t in (m.weight.grad.numpy().T.ravel(), m.bias.grad.numpy())]
    grads += [t for m in norms for t in (m.weight.grad.numpy(), m.bias.grad.numpy())]
    np.testing.assert_allclose(ours[1], np.concatenate(grads), rtol=1e-9, atol=1e-12 * np.abs(ours[1]).max())
    twin.eval()
    with torch.no_grad():
        np.testing.assert_allclose(net(x), twin(torch.from_numpy(x)).numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_backward_formula_is_the_derivative_sympy():
    r"""The kernels' :math:`\partial L/\partial z_i = \gamma\sigma_B^{-1}(g_i - \bar g - \hat z_i\overline{g\hat z})` and
    :math:`\partial L/\partial\gamma = \sum g\hat z`, :math:`\partial L/\partial\beta = \sum g`, for
    :math:`L = \sum_i g_i(\gamma\hat z_i + \beta)` on 4 rows: sympy's derivative of Alg. 1 of Ioffe & Szegedy
    (2015), evaluated to 40 digits at random points (the derivation of the closed form is ours)."""
    sympy = pytest.importorskip("sympy")
    n = 4
    z, g = sympy.symbols(f"z:{n}"), sympy.symbols(f"g:{n}")
    gamma, beta, eps = sympy.symbols("gamma beta epsilon", positive=True)
    mean = sum(z) / n
    var = sum((zi - mean) ** 2 for zi in z) / n
    zhat = [(zi - mean) / sympy.sqrt(var + eps) for zi in z]
    loss = sum(gi * (gamma * h + beta) for gi, h in zip(g, zhat))
    g_bar, gz_bar = sum(g) / n, sum(gi * h for gi, h in zip(g, zhat)) / n
    claimed = [gamma / sympy.sqrt(var + eps) * (gi - g_bar - h * gz_bar) for gi, h in zip(g, zhat)]
    checks = [sympy.diff(loss, zi) - c for zi, c in zip(z, claimed)]
    checks += [sympy.diff(loss, gamma) - n * gz_bar, sympy.diff(loss, beta) - sum(g)]
    rng = np.random.default_rng(0)
    for _ in range(2):
        point = {s: sympy.Rational(int(v * 1000), 1000) for s, v in zip((*z, *g), rng.standard_normal(2 * n))}
        point.update({gamma: sympy.Rational(13, 10), beta: sympy.Rational(-1, 3), eps: sympy.Rational(1, 100)})
        for check in checks:
            assert abs(check.subs(point).evalf(40)) < 1e-30
