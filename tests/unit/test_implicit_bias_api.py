"""theorytk.implicit_bias: the issue's API, the tasks' truth, kernel == reference, gradients against finite
differences, the SVM's KKT conditions, parity by CoT (two-token and truncated; CoT training), and bad input."""
import numpy as np
import pytest

from theorytk.implicit_bias import (NotSeparable, OneLayerTransformer, TrainingDiverged, all_strings, cot_windows,
                                    even_pairs, max_margin, parity, parity_cot, separable, train)
from theorytk.implicit_bias import _kernels, reference


def test_the_issue_example():
    data = even_pairs(max_length=4)
    run = train(OneLayerTransformer(length=4), data, eta=1.0, steps=3000, record=np.geomspace(1, 3000, 30), seed=0)
    assert run.norms.shape == (run.steps.size, 2) and run.features.shape == (run.steps.size, 30, 6)
    svm = max_margin(run.features[-1], data.labels)
    assert run.cosine_to(svm.direction)[-1] > 0.99
    assert 0.5 * svm.norm < run.log_slope() < 1.5 * svm.norm
    assert 0.5 * svm.norm**2 < run.eta_t_loss()[-1] < 1.5 * svm.norm**2
    assert run.accuracy[-1] == 1.0


def _pair_count(s):
    return sum(1 for x, y in zip(s, s[1:]) if x != y)


def test_tasks_know_their_truth():
    data = even_pairs(5)
    assert data.size == 2**6 - 2 and data.strings()[:3] == ["a", "b", "aa"]
    for s, y in zip(data.strings(), data.labels):
        assert (y > 0) == (_pair_count(s) % 2 == 0) == (s[0] == s[-1])     # contiguous ab + ba count
    for s, y in zip(parity(5).strings(), parity(5).labels):
        assert (y > 0) == (s.count("b") % 2 == 0)
    tokens, lengths = all_strings(3)
    assert tokens.shape == (14, 3) and np.all(tokens[lengths == 1][:, 1:] == -1)


def _random_parameters(L, seed, scale=0.7):
    rng = np.random.default_rng(seed)
    return scale * rng.standard_normal((L + 2, L + 2)), scale * rng.standard_normal(L + 2)


@pytest.mark.parametrize("with_attention", [True, False])
def test_kernel_equals_reference_along_a_trajectory(with_attention):
    data = even_pairs(4)
    W0, u0 = _random_parameters(4, 1)
    record = np.array([0, 1, 7, 40])
    run = train(OneLayerTransformer(4, W0, u0), data, eta=0.5, steps=40, record=record,
                train_attention=with_attention)
    W, u, ref = reference.train(data.tokens, data.lengths, data.labels, W0, u0, 0.5, 40, record, with_attention)
    np.testing.assert_allclose(run.model.W, W, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run.model.u, u, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run.norms, np.column_stack([ref["w_norm"], ref["u_norm"]]), rtol=1e-12)
    np.testing.assert_allclose(run.loss, ref["loss"], rtol=1e-12)
    np.testing.assert_allclose(run.features, ref["features"], atol=1e-14)
    np.testing.assert_array_equal(run.accuracy, ref["accuracy"])


def test_gradients_match_finite_differences():
    data = parity(4)
    W, u = _random_parameters(4, 2)
    D = 6
    gW, gu, h = np.zeros((D, D)), np.zeros(D), np.zeros((data.size, D))

    def loss(W, u):
        return _kernels.forward_backward(data.tokens, data.lengths, data.labels, W, u, np.zeros((D, D)),
                                         np.zeros(D), np.zeros((data.size, D)), False)[0]

    _kernels.forward_backward(data.tokens, data.lengths, data.labels, W, u, gW, gu, h, True)
    eps = 1e-6
    for a, b in [(0, 0), (1, 3), (4, 1), (5, 5), (2, 4)]:
        E = np.zeros((D, D))
        E[a, b] = eps
        assert abs((loss(W + E, u) - loss(W - E, u)) / (2 * eps) - gW[a, b]) < 1e-8
    for a in range(D):
        e = np.zeros(D)
        e[a] = eps
        assert abs((loss(W, u + e) - loss(W, u - e)) / (2 * eps) - gu[a]) < 1e-8


def test_svm_kkt_and_a_closed_form():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    y = np.sign(X @ rng.standard_normal(5))
    svm = max_margin(X, y)
    assert svm.kkt["primal"] < 1e-10 and svm.kkt["dual"] <= 0 and svm.kkt["slackness"] < 1e-10
    assert svm.kkt["duality_gap"] < 1e-10 and svm.kkt["stationarity"] < 1e-12
    np.testing.assert_allclose(svm.w, (svm.alpha * y) @ X, atol=1e-12)
    assert np.all(svm.margins[svm.support] < 1 + 1e-10) and np.all(svm.alpha[np.setdiff1d(range(40), svm.support)] == 0)
    # two points +-(1, 1): w = (1/2, 1/2), ||w||^2 = 1/2 = sum alpha
    two = max_margin([[1.0, 1.0], [-1.0, -1.0]], [1.0, -1.0])
    np.testing.assert_allclose(two.w, [0.5, 0.5], atol=1e-14)
    assert abs(two.alpha.sum() - 0.5) < 1e-14


def test_a_small_margin_is_solved_and_a_hair_margin_refused():
    for eps in (1e-5, 1e-7):                          # ||w_hat|| = 1/eps
        svm = max_margin([[1.0, eps], [1.0, -eps]], [1.0, -1.0])
        assert abs(svm.norm * eps - 1) < 1e-9 and svm.kkt["primal"] < 1e-12 and svm.kkt["stationarity"] < 1e-8
    with pytest.raises(NotSeparable):
        max_margin([[1.0, 1e-13], [1.0, -1e-13]], [1.0, -1.0])


def test_non_separable_data_is_refused():
    X, y = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]), np.array([1.0, 1.0, -1.0])   # midpoint negative
    assert not separable(X, y)
    with pytest.raises(NotSeparable, match="not linearly separable"):
        max_margin(X, y)


def test_uniform_attention_cannot_separate_even_pairs_but_a_trained_model_solves_parity_by_cot():
    data = even_pairs(4)
    uniform = OneLayerTransformer(4, np.zeros((6, 6)), np.ones(6))
    assert not separable(uniform.features(data), data.labels)
    run = train(OneLayerTransformer(4), data, eta=1.0, steps=2000, record=[2000], seed=3)
    np.testing.assert_array_equal(run.model.parity_by_cot(parity(8)), parity(8).labels)   # longer than trained on
    assert np.any(uniform.parity_by_cot(parity(4)) != parity(4).labels)


def test_truncated_cot_windows_know_their_truth():
    strings, lengths = all_strings(6)
    for row, n in zip(strings, lengths):
        if n < 2:
            continue
        windows, labels, answer = cot_windows(row[:n])
        assert windows.shape == (n - 1, n) and answer == int(row[:n].sum()) % 2
        np.testing.assert_array_equal(labels, np.where(windows[:, 0] == windows[:, -1], 1.0, -1.0))  # even-pairs labels
        np.testing.assert_array_equal(windows[1:, :-1], windows[:-1, 1:])                          # shifted by one
    task = parity_cot(5, 3)
    assert task.size == even_pairs(5).size + 2**3 * 2 and task.name == "parity_cot"
    np.testing.assert_array_equal(task.labels[:62], even_pairs(5).labels)


def test_cot_training_solves_parity_and_shuffled_cot_labels_do_not():
    data = parity_cot(5, 4)
    run = train(OneLayerTransformer(5), data, eta=1.0, steps=2000, record=[2000], seed=1)
    assert run.accuracy[-1] == 1.0
    target = parity(5)
    np.testing.assert_array_equal(run.model.parity_by_truncated_cot(target), target.labels)
    shuffled = data.with_labels(np.random.default_rng(0).permutation(data.labels))
    bad = train(OneLayerTransformer(5), shuffled, eta=1.0, steps=2000, record=[2000], seed=1)
    assert np.mean(bad.model.parity_by_truncated_cot(target) == target.labels) < 0.75
    even = train(OneLayerTransformer(5), even_pairs(5), eta=1.0, steps=2000, record=[2000], seed=1)
    np.testing.assert_array_equal(even.model.parity_by_truncated_cot(target), target.labels)   # zero-shot, as the note says


def test_runs_are_reproducible_and_read_only():
    data = even_pairs(3)
    a, b = (train(OneLayerTransformer(3), data, eta=1.0, steps=50, record=[10, 50], seed=5) for _ in range(2))
    np.testing.assert_array_equal(a.u, b.u)
    c = train(OneLayerTransformer(3), data, eta=1.0, steps=50, record=[10, 50], seed=6)
    assert not np.array_equal(a.u, c.u)
    assert not a.features.flags.writeable and not a.model.W.flags.writeable
    frozen = train(OneLayerTransformer(3), data, eta=1.0, steps=50, record=[50], seed=5, train_attention=False)
    np.testing.assert_array_equal(frozen.model.W, frozen.initial.W)


@pytest.mark.parametrize("call, error, match", [
    (lambda: even_pairs(0), ValueError, "max_length must be >= 1"),
    (lambda: even_pairs(2.5), TypeError, "max_length must be an integer"),
    (lambda: parity(17), ValueError, "max_length must be <= 16"),
    (lambda: OneLayerTransformer(0), ValueError, "length must be >= 1"),
    (lambda: OneLayerTransformer(3, W=np.zeros((5, 5))), ValueError, "W and u must be given together"),
    (lambda: OneLayerTransformer(3, np.zeros((4, 4)), np.zeros(5)), ValueError, r"W must have shape \(5, 5\)"),
    (lambda: train(OneLayerTransformer(3), even_pairs(4), eta=1.0, steps=10, record=[1]), ValueError,
     "task has strings of length up to 4"),
    (lambda: train(OneLayerTransformer(3), "abba", eta=1.0, steps=10, record=[1]), TypeError,
     "task must be a LanguageTask"),
    (lambda: train(OneLayerTransformer(3), even_pairs(3), eta=0.0, steps=10, record=[1]), ValueError, "eta must be > 0"),
    (lambda: train(OneLayerTransformer(3), even_pairs(3), eta=1.0, steps=0, record=[1]), ValueError, "steps must be >= 1"),
    (lambda: train(OneLayerTransformer(3), even_pairs(3), eta=1.0, steps=10, record=[20]), ValueError,
     r"record must lie in \[0, steps=10\]"),
    (lambda: train(OneLayerTransformer(3), even_pairs(3), eta=1.0, steps=10, record=[]), ValueError,
     "record must hold at least one step"),
    (lambda: train(OneLayerTransformer(3), even_pairs(3), eta=1.0, steps=10, record=[1], train_attention="no"),
     TypeError, "train_attention must be a bool"),
    (lambda: train(OneLayerTransformer(3), even_pairs(3), eta=1.0, steps=10, record=[1], seed=-1), ValueError,
     "seed must be >= 0"),
    (lambda: max_margin(np.ones((3, 2)), [1, -1]), ValueError, r"labels must have shape \(3,\)"),
    (lambda: max_margin(np.ones((2, 2)), [1, 0]), ValueError, "labels must be \\+1 or -1"),
    (lambda: max_margin([[np.nan, 1.0]], [1]), ValueError, "features must be finite"),
    (lambda: even_pairs(3).with_labels(np.zeros(14)), ValueError, "labels must all be \\+1 or -1"),
    (lambda: parity_cot(4, 5), ValueError, "cot_length must be <= 4"),
    (lambda: parity_cot(1, 1), ValueError, "max_length must be >= 2"),
    (lambda: cot_windows([0, 2]), ValueError, "string must hold at least two tokens in"),
    (lambda: OneLayerTransformer(3, np.zeros((5, 5)), np.zeros(5)).parity_by_truncated_cot(parity(4)), ValueError,
     "task has strings of length up to 4"),
])
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_huge_step_is_a_solver_failure():
    W, u = _random_parameters(3, 0, scale=3.0)
    with pytest.raises(TrainingDiverged, match="diverged at step"):
        train(OneLayerTransformer(3, W, u), even_pairs(3), eta=1e305, steps=100, record=[100])


def test_run_methods_check_their_arguments():
    run = train(OneLayerTransformer(3), even_pairs(3), eta=1.0, steps=100, record=[1, 50, 100], seed=0)
    with pytest.raises(ValueError, match="direction must have shape"):
        run.cosine_to(np.ones(3))
    with pytest.raises(ValueError, match="direction must be non-zero"):
        run.cosine_to(np.zeros(5))
    with pytest.raises(ValueError, match="log_slope needs >= 2 records"):
        run.log_slope(start=60)
