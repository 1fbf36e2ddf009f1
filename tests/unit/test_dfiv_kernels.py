"""theorytk.dfiv kernels equal their NumPy twins; the MLP backprop equals finite differences."""
import numpy as np
import pytest

from theorytk.dfiv import _kernels, reference, two_stage
from theorytk.dfiv._kernels import AdamHyper, AdamState
from theorytk.dfiv.data import circle_embedding, circle_iv
from theorytk.dfiv.dfiv import DFIV, STAGE_OPS
from theorytk.dfiv._stage_kernels import RidgeLoss, StepWork
from theorytk.dfiv.features import MLP
from tests._threads import on_one_and_two_threads


def _network(rng, sizes, n, output):
    net = MLP(sizes, rng, output=output)
    return net, rng.standard_normal((n, sizes[0])), rng.standard_normal((n, sizes[-1]))


def _forward_backward(net, ops, x, g):
    net.ops = ops
    acts = net.forward(x)
    net.backward(acts, g)
    return acts.features.copy(), net.grad.copy()


@pytest.mark.parametrize("output", ["linear", "relu"])
@pytest.mark.parametrize("n", [1, 37, _kernels.BLOCK, 3 * _kernels.BLOCK + 5])
@pytest.mark.parametrize("sizes", [(3, 7, 5, 2), (2, 16, 1), (4, 3)])
def test_network_forward_backward_match_reference(sizes, n, output):
    """Row blocks in parallel (numba) == whole arrays layer by layer (NumPy), for block-edge sizes."""
    net, x, g = _network(np.random.default_rng(n), sizes, n, output)
    # the two sum the same products in different orders (row blocks + FMA tiles vs BLAS): rounding
    # only, a few ulps per layer; the gradient sums up to 389 rows, hence the looser 1e-11
    feats, grad = _forward_backward(net, _kernels, x, g)
    ref_feats, ref_grad = _forward_backward(net, reference, x, g)
    np.testing.assert_allclose(feats, ref_feats, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-11, atol=1e-11)


def test_network_kernels_are_identical_on_one_and_two_threads():
    net, x, g = _network(np.random.default_rng(9), (3, 32, 16, 4), 5 * _kernels.BLOCK + 3, "relu")
    one, two = on_one_and_two_threads(lambda: _forward_backward(net, _kernels, x, g))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def _adam_steps(backend, kind, n, k_x, iters, seed):
    """``iters`` Adam steps of a 3-9-5 network on a profiled loss through one backend's loop kernel."""
    rng = np.random.default_rng(seed)
    stage1 = kind == two_stage.STAGE1_LOSS
    net = MLP((3, 9, 5), rng, backend, output="linear" if stage1 else "relu")
    x = rng.standard_normal((n, 3))
    predicted = np.empty((n, 0)) if stage1 else rng.standard_normal((n, k_x))
    targets = rng.standard_normal((n, k_x if stage1 else 1))
    ops = STAGE_OPS[backend]
    loss = RidgeLoss(kind, predicted, targets, 0.1)
    feature_grad = np.full((n, 5), np.nan)
    net.train(x, iters, ops.adam_steps, loss, StepWork(feature_grad, *ops.scratch(loss, 5)), 1e-2, weight_decay=1e-3)
    return net.params, net.grad, feature_grad


LOSSES = [two_stage.STAGE1_LOSS, two_stage.OUTCOME_LOSS]


@pytest.mark.parametrize("iters", [1, 3])
@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("k_x", [1, 3])
@pytest.mark.parametrize("n", [1, 37, 3 * _kernels.BLOCK + 5])
def test_adam_steps_kernel_matches_reference(n, k_x, kind, iters):
    """Fused numba Adam steps == the NumPy twin on two_stage (its gradients are tested against finite differences).

    Compared: the parameters after the steps, the last step's parameter gradient and its feature gradient.
    """
    # the two sum the same products in different orders (block tiles + LU vs BLAS + Cholesky):
    # rounding only, amplified a little by Adam's division by sqrt(v); the gradients are
    # O(1/n), so an absolute 1e-12 is still ~1e3 ulps of the largest
    for got, want in zip(_adam_steps("numba", kind, n, k_x, iters, n), _adam_steps("numpy", kind, n, k_x, iters, n)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", LOSSES)
def test_adam_steps_kernel_is_identical_on_one_and_two_threads(kind):
    one, two = on_one_and_two_threads(lambda: _adam_steps("numba", kind, 5 * _kernels.BLOCK + 3, 2, 3, 7))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_forward_writes_a_fresh_buffer_unless_given_a_workspace():
    """Without a workspace nothing is ever overwritten; with one, the caller's buffer is reused by design."""
    from theorytk.dfiv.features import Workspace

    net, x, _ = _network(np.random.default_rng(4), (3, 8, 2), 50, "linear")
    held = net.forward(x).features
    expected = held.copy()
    net.forward(x + 1.0)
    np.testing.assert_array_equal(held, expected)
    workspace = Workspace()
    first = net.forward(x, workspace)
    second = net.forward(x + 1.0, workspace)
    assert second.buffer is first.buffer is workspace.buffer(net, 50)
    np.testing.assert_array_equal(second.features, net.forward(x + 1.0).features)
    other, _, _ = _network(np.random.default_rng(5), (3, 8, 2), 50, "linear")
    assert other.forward(x, workspace).buffer is not first.buffer       # one buffer per (network, rows)


def test_adam_matches_reference():
    rng = np.random.default_rng(2)
    p0, g = rng.standard_normal(50), rng.standard_normal(50)
    out = []
    for ops in (_kernels, reference):
        p, m, v = p0.copy(), np.zeros(50), np.zeros(50)
        for t in range(1, 4):
            ops.adam_step(p, AdamState(g * t, m, v), AdamHyper(1e-2, 0.9, 0.999, 1e-8, 1e-3), t)
        out.append(p)
    # the same formula; the kernel's fastmath may contract it into FMAs and reassociate: a few
    # ulps per step over three steps, so 1e-12 (~5e3 ulps) still catches any wrong term
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12)


def test_mlp_backprop_equals_finite_differences():
    rng = np.random.default_rng(3)
    net = MLP((3, 6, 5, 2), rng, output="relu")
    x, g = rng.standard_normal((11, 3)), rng.standard_normal((11, 2))
    net.backward(net.forward(x), g)
    analytic = net.grad.copy()
    numeric = np.empty_like(analytic)
    for i in range(net.params.size):
        old = net.params[i]
        net.params[i] = old + 1e-6
        up = np.sum(net(x) * g)
        net.params[i] = old - 1e-6
        down = np.sum(net(x) * g)
        net.params[i] = old
        numeric[i] = (up - down) / 2e-6
    # central differences with h = 1e-6: truncation O(h^2) ~ 1e-12, rounding ~ eps |L| / h ~ 1e-9
    # (|L| ~ 10 here); 1e-5 relative / 1e-7 absolute sits well above both and far below any
    # wrong backprop term (O(1) relative)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_dfiv_fit_numba_equals_numpy_reference():
    data = circle_iv(400, "kink", seed=4)
    preds = []
    for backend in ("numba", "numpy"):
        model = DFIV(treatment_layers=(8,), instrument_layers=(8,), treatment_features=4, instrument_features=6,
                     lam1=1e-2, lam2=1e-2, epochs=15, stage1_iter=3, lr=1e-2, treatment_input=circle_embedding,
                     instrument_input=circle_embedding, backend=backend)
        preds.append(model.fit(data.stage1, data.stage2, data.validation, seed=5).predict(data.test_x))
    # the backends differ only in summation order; measured after these 15 epochs: 5e-15 relative.
    # 1e-8 leaves room for that to grow on other machines, and a 1% change of lr alone moves the
    # predictions by 3.5e-3 relative, so any algorithmic difference fails
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-8, atol=1e-10)
