"""theorytk.reversal: kernel == NumPy reference, the coefficient form == GD in Theta, gradients against
finite differences, the kernel's exp and sparse/dense products, the fit's accessors, bad inputs named, and the
benchmark on a tiny case."""
import math

import numpy as np
import pytest

from benchmarks import __main__ as bench_main
from benchmarks import reversal as bench
from theorytk.reversal import (BilinearModel, TrainingDiverged, _kernels, entity_chains, entity_pairs, reference,
                               train_bilinear)

TASKS = {"one_hot_pairs": lambda: entity_pairs(6, 0.5),
         "gaussian_pairs": lambda: entity_pairs(5, 0.4, "gaussian", d=7, seed=3),
         "gaussian_chains": lambda: entity_chains(4, "gaussian", d=9, seed=1)}


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("name", sorted(TASKS))
def test_kernel_equals_reference(name, symmetric):
    model = BilinearModel(TASKS[name](), symmetric=symmetric)
    kw = dict(lr=3.0, steps=60, until_loss=0.2, record=[0, 1, 5, 17, 1000])
    fast, slow = train_bilinear(model, **kw), train_bilinear(model, implementation="numpy", **kw)
    np.testing.assert_array_equal(fast.steps, slow.steps)
    np.testing.assert_allclose(fast.loss, slow.loss, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.logits, slow.logits, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.coefficients, slow.coefficients, rtol=0, atol=1e-12)
    assert fast.steps[-1] == fast.final_step == fast.loss.size - 1
    assert fast.loss[-1] <= 0.2 < fast.loss[-2] or fast.final_step == 60


@pytest.mark.parametrize("symmetric", [False, True])
def test_the_coefficient_form_is_gd_in_theta(symmetric):
    task = entity_pairs(4, 0.5, "gaussian", d=6, seed=2)
    E, lr, steps = task.embeddings, 2.0, 12
    Theta = np.zeros((task.d, task.d))
    for _ in range(steps):
        loss, G = reference.loss_and_gradient(Theta, E, task.inputs, task.targets, symmetric)
        Theta -= lr * G
    fit = train_bilinear(BilinearModel(task, symmetric), lr=lr, steps=steps)
    np.testing.assert_allclose(fit.theta, Theta, rtol=0, atol=1e-12)
    if symmetric:
        np.testing.assert_allclose(fit.theta, fit.theta.T, atol=1e-14)
    probes = E[fit.probes]
    np.testing.assert_allclose(fit.logits[-1], probes @ Theta.T @ E.T, atol=1e-12)  # z_j(q) = e_j^T Theta e_q


@pytest.mark.parametrize("symmetric", [False, True])
def test_gradient_against_finite_differences(symmetric):
    task = entity_chains(3, "gaussian", d=5, seed=4)
    rng = np.random.default_rng(0)
    Theta = rng.standard_normal((5, 5))
    if symmetric:
        Theta = Theta + Theta.T
    _, G = reference.loss_and_gradient(Theta, task.embeddings, task.inputs, task.targets, symmetric)
    h = 1e-6
    for _ in range(6):
        V = rng.standard_normal((5, 5))
        if symmetric:
            V = V + V.T     # the tied model moves only along symmetric directions
        up = reference.loss_and_gradient(Theta + h * V, task.embeddings, task.inputs, task.targets)[0]
        down = reference.loss_and_gradient(Theta - h * V, task.embeddings, task.inputs, task.targets)[0]
        assert abs((up - down) / (2 * h) - np.sum(G * V)) <= 1e-7 * max(1.0, abs(np.sum(G * V)))


def test_tasks_know_their_truth():
    task = entity_pairs(10, 0.3, seed=5)
    assert task.M == 20 == task.d and task.N == 13 and task.both.sum() == 3
    rev_in, rev_out = task.pairs("reverse")
    assert set(rev_in) == set(10 + np.flatnonzero(~task.both)) and np.all(rev_out == rev_in - 10)
    assert not set(rev_in) & set(task.inputs)              # reverse-untrained inputs are never trained
    chains = entity_chains(4)
    assert chains.M == 12 and chains.N == 8
    np.testing.assert_array_equal(chains.pairs("transitive")[1], 8 + np.arange(4))
    g = entity_pairs(40, 0.5, "gaussian", d=128, seed=0)
    assert g.embeddings.shape == (80, 128) and abs(np.mean(np.sum(g.embeddings ** 2, axis=1)) - 1) < 0.05


def test_fit_accessors():
    fit = train_bilinear(BilinearModel(entity_pairs(40, 0.5, "gaussian", d=128, seed=0)), lr=60.0, until_loss=0.05)
    assert fit.loss[-1] <= 0.05 < fit.loss[-2]
    assert 0 < fit.reverse_probability() < 1 and fit.reverse_exponent() < 0.05
    exps = fit.reverse_exponents()
    assert np.isnan(exps[0]) and exps[-1] == fit.reverse_exponent()
    assert fit.test_loss("reverse_trained")[-1] < 0.05 * fit.model.task.N / 20
    with pytest.raises(ValueError, match="no reverse-untrained pairs"):
        train_bilinear(BilinearModel(entity_chains(3)), steps=2).reverse_probability()


BAD = [
    (lambda: entity_pairs(0), ValueError, "entities must be >= 1, got 0"),
    (lambda: entity_pairs("40"), TypeError, "entities must be an integer"),
    (lambda: entity_pairs(4, 1.5), ValueError, "both_directions must be <= 1.0, got 1.5"),
    (lambda: entity_pairs(4, embedding="onehot"), ValueError, "embedding must be one of"),
    (lambda: entity_pairs(4, d=5), ValueError, "d must be None or the number of entities M = 8"),
    (lambda: entity_pairs(4, embedding="gaussian"), ValueError, "d must be given"),
    (lambda: entity_pairs(4, embedding="gaussian", d=0), ValueError, "d must be >= 1, got 0"),
    (lambda: entity_chains(2, seed=-1), ValueError, "seed must be >= 0, got -1"),
    (lambda: BilinearModel("task"), TypeError, "task must be an EntityTask"),
    (lambda: BilinearModel(entity_pairs(2), symmetric="yes"), TypeError, "symmetric must be a bool"),
    (lambda: train_bilinear(entity_pairs(2)), TypeError, "model must be a BilinearModel"),
    (lambda: train_bilinear(BilinearModel(entity_pairs(2)), lr=0), ValueError, "lr must be > 0.0, got 0.0"),
    (lambda: train_bilinear(BilinearModel(entity_pairs(2)), lr=float("nan")), ValueError, "lr must be finite"),
    (lambda: train_bilinear(BilinearModel(entity_pairs(2)), steps=-1), ValueError, "steps must be >= 0, got -1"),
    (lambda: train_bilinear(BilinearModel(entity_pairs(2)), steps=2.5), TypeError, "steps must be an integer"),
    (lambda: train_bilinear(BilinearModel(entity_pairs(2)), until_loss=0), ValueError, "until_loss must be > 0.0"),
    (lambda: train_bilinear(BilinearModel(entity_pairs(2)), record=[-1, 3]), ValueError, "record must hold step"),
    (lambda: train_bilinear(BilinearModel(entity_pairs(2)), record=[0.5]), TypeError, "record must hold integers"),
    (lambda: train_bilinear(BilinearModel(entity_pairs(2)), implementation="jax"), ValueError,
     "implementation must be one of"),
    (lambda: train_bilinear(BilinearModel(entity_pairs(2)), steps=1).probabilities("backward"), ValueError,
     "name must be one of"),
]


@pytest.mark.parametrize("call, kind, message", BAD, ids=[b[2][:30] for b in BAD])
def test_bad_inputs_are_named(call, kind, message):
    with pytest.raises(kind, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        call()


def test_divergence_is_reported_with_the_step_and_lr():
    with pytest.raises(TrainingDiverged, match=r"at step 1 with lr = 1e\+308"):
        train_bilinear(BilinearModel(entity_pairs(3, 0.0, "gaussian", d=4)), lr=1e308, steps=20)


def test_reversal_benchmark_runs_on_a_tiny_case(capsys):
    rows = bench.main({"tiny": dict(P=4, both=0.5, d=8, steps=20)}, repeats=1, min_time=0.01)
    row = rows[0]
    for key in ("kernel steps/s", "numpy steps/s", "theta numpy steps/s", "kernel/numpy"):
        assert math.isfinite(row[key]) and row[key] > 0, key
    assert "tiny" in capsys.readouterr().out
    assert "reversal" in bench_main.available()


def test_small_steps_approach_gradient_flow_at_first_order():
    """GD at time T = lr * steps: halving lr halves the distance to the flow (Euler's first order)."""
    model, T = BilinearModel(entity_pairs(5, 0.4, "gaussian", d=12, seed=7)), 4.0
    loss = {lr: train_bilinear(model, lr=lr, steps=int(round(T / lr))).loss[-1] for lr in (0.4, 0.2, 0.1, 0.05)}
    flow = 2 * loss[0.05] - loss[0.1]                    # Richardson extrapolation to lr -> 0
    gaps = np.array([abs(loss[lr] - flow) for lr in (0.4, 0.2, 0.1)])
    np.testing.assert_allclose(gaps[:-1] / gaps[1:], 2.0, rtol=0.15)


def test_sparse_and_dense_products_equal_matmul():
    rng = np.random.default_rng(12)
    A = np.zeros((9, 9))
    A[0] = rng.standard_normal(9)                                    # a dense row
    A[2, 3], A[5, 0], A[5, 8], A[7, 7] = 1.0, -2.0, 0.5, 3.0         # sparse rows; rows 1, 3, 4, 6, 8 empty
    B = rng.standard_normal((9, 11))
    C = rng.standard_normal((6, 9))
    for matrix in (A, rng.standard_normal((9, 9))):                  # mixed rows, then every row dense (gemm)
        packed = _kernels.compress(matrix)
        np.testing.assert_allclose(_kernels.product(matrix, packed, B), matrix @ B, rtol=0, atol=1e-13)
        np.testing.assert_allclose(_kernels.right_product(C, matrix, packed), C @ matrix, rtol=0, atol=1e-13)
