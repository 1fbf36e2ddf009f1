"""theorytk.memory: the issue's API, the operators' structure, ESS and COPY by hand, and bad input."""
import importlib

import numpy as np
import pytest

from theorytk import memory
from theorytk.memory import (copy_error, copy_error_samples, copy_rounding_bound, diagonal_ssm, ess, fir,
                             linear_attention, lti_ssm, selective_ssm, softmax_attention)


def test_the_issue_example():
    T = diagonal_ssm(L=32, state=4, seed=0).matrix
    tol, ent = ess(T, method="tolerance"), ess(T, method="entropy")
    assert tol.shape == ent.shape == (31,) and tol.dtype == np.int64
    np.testing.assert_array_equal(tol, np.minimum(4, np.minimum(np.arange(1, 32), 31 - np.arange(31))))
    assert np.all(ent <= tol + 1e-12) and np.all(ent >= 1.0)
    assert copy_error(linear_attention(L=32, features=8, construction="copy"), context=16) == 0.5


def test_operators_are_causal_read_only_and_reproducible():
    for make in (lambda s: diagonal_ssm(16, 3, s), lambda s: selective_ssm(16, 3, s), lambda s: fir(16, 4, s),
                 lambda s: linear_attention(16, 3, s), lambda s: softmax_attention(16, 4, s)):
        a, b, c = make(0), make(0), make(1)
        assert np.all(np.triu(a.matrix, 1) == 0)
        assert not a.matrix.flags.writeable
        np.testing.assert_array_equal(a.matrix, b.matrix)
        assert not np.array_equal(a.matrix, c.matrix)


def test_ssm_matrix_is_its_recursion():
    """y_t = C x_t + D u_t with x_t = A x_{t-1} + B u_t, run step by step, equals T u."""
    lam = np.array([0.9 * np.exp(0.4j), 0.9 * np.exp(-0.4j), 0.5])
    res = np.array([1 + 2j, 1 - 2j, -0.7])
    op = lti_ssm(10, lam, res, feedthrough=0.3)
    u = np.random.default_rng(0).standard_normal(10)
    x, y = np.zeros(3, complex), []
    for t in range(10):
        x = lam * x + u[t]
        y.append((res @ x).real + 0.3 * u[t])
    np.testing.assert_allclose(op.matrix @ u, y, atol=1e-12)


def test_selective_ssm_matrix_is_its_recursion():
    op = selective_ssm(8, 2, seed=3)
    rng = np.random.default_rng(3)          # the generator's own draws, in its order
    from theorytk.random import generator
    g = generator(3)
    a, b, c = g.uniform(0.5, 1.0, (8, 2)), g.standard_normal((8, 2)), g.standard_normal((8, 2))
    u = rng.standard_normal(8)
    x, y = np.zeros(2), []
    for t in range(8):
        x = a[t] * x + b[t] * u[t]
        y.append(c[t] @ x)
    np.testing.assert_allclose(op.matrix @ u, y, atol=1e-12)


def test_softmax_rows_are_distributions_and_fir_is_toeplitz():
    W = softmax_attention(12, 4, seed=0).matrix
    np.testing.assert_allclose(W.sum(axis=1), 1.0, rtol=1e-14)
    T = fir(12, 3, seed=0).matrix
    assert np.all(np.diag(T, -3) == 0) and np.ptp(np.diag(T, -1)) == 0


def test_ess_counts_by_hand():
    T = np.zeros((4, 4))
    T[3, 0] = 1.0                          # only u_0 -> y_3 crosses the splits 1, 2, 3
    np.testing.assert_array_equal(ess(T), [1, 1, 1])
    T[2, 1] = 1.0                          # split 2 now carries two independent paths
    np.testing.assert_array_equal(ess(T), [1, 2, 1])
    np.testing.assert_allclose(ess(T, "entropy"), [1.0, 2.0, 1.0])
    assert np.all(ess(np.eye(4)) == 0)     # memoryless: the diagonal is not in the past-to-future block


def test_entropy_ess_of_unequal_singular_values():
    T = np.zeros((4, 4))
    T[2, 0], T[3, 1] = 3.0, 1.0            # split 2: singular values 3, 1 -> p = (3/4, 1/4)
    p = np.array([0.75, 0.25])
    assert ess(T, "entropy")[1] == pytest.approx(np.exp(-np.sum(p * np.log(p))), rel=1e-14)


def test_rtol_drops_small_singular_values():
    T = np.zeros((4, 4))
    T[2, 0], T[3, 1] = 1.0, 1e-9
    assert ess(T)[1] == 2 and ess(T, rtol=1e-6)[1] == 1


def test_copy_error_by_hand_and_monte_carlo():
    T = np.zeros((4, 4))
    T[2, 0], T[3, 1], T[3, 0] = 1.0, 0.5, 0.5     # H = [[1, 0], [0.5, 0.5]]: |H - I|^2 = 0.5
    assert copy_error(T, 2) == 0.25
    samples = copy_error_samples(T, 2, 20000, seed=1)
    assert abs(samples.mean() - 0.25) < 4 * samples.std() / np.sqrt(samples.size)
    assert 0 < copy_rounding_bound(T, 2) < 1e-14


def test_copy_constructions():
    assert copy_error(softmax_attention(16, construction="copy"), 8) < 1e-30
    assert copy_error(diagonal_ssm(16, 8, construction="copy"), 8) < 1e-26
    damped = copy_error(diagonal_ssm(16, 4, construction="copy", damping=0.99), 8)
    assert damped > 0.5 + 1e-3                   # strictly above the bound (8 - 4)/8


@pytest.mark.parametrize("call, error, words", [
    (lambda: ess(np.triu(np.ones((4, 4)))), ValueError, "T must be causal"),
    (lambda: ess(np.ones((3, 4))), ValueError, "T must be a square"),
    (lambda: ess(np.ones((1, 1))), ValueError, "L >= 2"),
    (lambda: ess(np.tril(np.ones((4, 4))), method="svd"), ValueError, "method must be one of"),
    (lambda: ess(np.tril(np.ones((4, 4))), rtol=2.0), ValueError, "rtol must be <= 1"),
    (lambda: ess("abc"), TypeError, "T must be array-like"),
    (lambda: ess(np.full((3, 3), np.nan)), ValueError, "T must be finite"),
    (lambda: diagonal_ssm(1, 2), ValueError, "L must be >= 2"),
    (lambda: diagonal_ssm(8, 0), ValueError, "state must be >= 1"),
    (lambda: diagonal_ssm(8, 2.5), TypeError, "state must be an integer"),
    (lambda: diagonal_ssm(8, 2, poles="imaginary"), ValueError, "poles must be one of"),
    (lambda: diagonal_ssm(8, 2, radius=(0.5, 1.5)), ValueError, "radius must satisfy"),
    (lambda: diagonal_ssm(8, 2, construction="copy", damping=0.0), ValueError, "damping must be > 0"),
    (lambda: diagonal_ssm(8, 5, construction="copy"), ValueError, "state must be <= context"),
    (lambda: linear_attention(8, 2, construction="copy", context=5), ValueError, "context must be <= L/2"),
    (lambda: linear_attention(8, 2, construction="memorise"), ValueError, "construction must be one of"),
    (lambda: fir(8, 9), ValueError, "taps must be <= 8"),
    (lambda: softmax_attention(8, sharpness=-1.0), ValueError, "sharpness must be > 0"),
    (lambda: lti_ssm(8, [1.5], [1.0]), ValueError, "|pole| <= 1"),
    (lambda: lti_ssm(8, [0.5j], [1.0]), ValueError, "conjugate pairs"),
    (lambda: copy_error(np.tril(np.ones((8, 8))), 5), ValueError, "context must be <= L/2"),
    (lambda: copy_error(np.tril(np.ones((8, 8))), 0), ValueError, "context must be >= 1"),
    (lambda: copy_error_samples(np.tril(np.ones((8, 8))), 2, 0), ValueError, "samples must be >= 1"),
])
def test_bad_input_is_named(call, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace("|", r"\|")):
        call()


def test_public_names():
    assert set(memory.__all__) >= {"diagonal_ssm", "fir", "linear_attention", "softmax_attention", "ess", "copy_error"}


@pytest.mark.parametrize("make", [
    lambda: diagonal_ssm(L=200, state=6, seed=1),
    lambda: diagonal_ssm(L=200, state=6, seed=2, poles="real"),     # geometric singular-value decay: near-threshold
    lambda: selective_ssm(L=160, state=5, seed=3),
    lambda: linear_attention(L=160, features=7, seed=4),
    lambda: softmax_attention(L=120, seed=5),                        # full-rank blocks: the full SVD
    lambda: fir(L=150, taps=9, seed=6),
])
def test_the_sketched_ess_equals_the_full_svd_ess(make):
    T = make().matrix
    sigmas = memory.split_singular_values(T)
    L = T.shape[0]
    for method in ("tolerance", "entropy"):
        full = [memory.ess_from_singular_values(s, (L - i, i), method) for i, s in enumerate(sigmas, start=1)]
        if method == "tolerance":
            np.testing.assert_array_equal(ess(T, method), full)
        else:
            np.testing.assert_allclose(ess(T, method), full, rtol=1e-12)
    np.testing.assert_array_equal(ess(T, rtol=1e-6), [memory.ess_from_singular_values(s, (L - i, i), rtol=1e-6)
                                                      for i, s in enumerate(sigmas, start=1)])


def test_low_rank_blocks_are_sketched_not_fully_decomposed(monkeypatch):
    module = importlib.import_module("theorytk.memory.ess")
    shapes, svd = [], np.linalg.svd
    monkeypatch.setattr(module.np.linalg, "svd", lambda a, **kw: shapes.append(a.shape) or svd(a, **kw))
    ess(diagonal_ssm(L=256, state=4, seed=0).matrix)
    assert len(shapes) == 255
    assert max(min(shape) for shape in shapes) <= 64   # the blocks up to 128 x 128 were never decomposed whole
