"""Public API of theorytk.contrastive: batch lists, losses, the minimiser, the schemes, and bad input."""
from math import comb

import numpy as np
import pytest

from theorytk import contrastive as c


def test_batch_lists():
    full = c.all_batches(6, 3)
    assert full.shape == (comb(6, 3), 3) and full.dtype == np.int64
    assert len({tuple(row) for row in full}) == len(full)
    np.testing.assert_array_equal(c.disjoint_batches(6, 2), [[0, 1], [2, 3], [4, 5]])
    sub = c.random_subset(6, 3, 7, seed=3)
    assert sub.shape == (7, 3) and {tuple(r) for r in sub} <= {tuple(r) for r in full}
    np.testing.assert_array_equal(sub, c.random_subset(6, 3, 7, seed=3))


def test_reference_configurations():
    for N, d in ((5, 4), (6, 9)):
        E = c.simplex_etf(N, d)
        G = E @ E.T
        np.testing.assert_allclose(np.diag(G), 1.0, atol=1e-14)
        np.testing.assert_allclose(G[~np.eye(N, dtype=bool)], -1.0 / (N - 1), atol=1e-14)
    X = c.cross_polytope(8, 4)
    np.testing.assert_array_equal(X @ X.T + np.kron(np.eye(4), [[0, 1], [1, 0]]), np.eye(8))


def test_loss_at_the_reference_configurations_equals_the_closed_forms():
    E = c.simplex_etf(7, 7)
    assert c.loss(E, E, c.all_batches(7, 3), tau=0.7) == pytest.approx(c.etf_loss(7, 3, 0.7), rel=1e-13)
    X = c.cross_polytope(6, 3)
    assert c.loss(X, X, c.all_batches(6, 4), tau=1.3) == pytest.approx(c.cross_polytope_loss(6, 4, 1.3), rel=1e-13)
    one_sided = c.loss(E, E, c.all_batches(7, 3), tau=0.7, symmetric=False)
    assert one_sided == pytest.approx(c.etf_loss(7, 3, 0.7) / 2, rel=1e-13)


def test_minimise_all_batches_gives_the_etf_and_the_partition_does_not():
    sol = c.minimise(N=6, d=6, batches=c.all_batches(6, 2), restarts=3, seed=0)
    assert np.all(sol.converged)
    assert sol.etf_deviation().max() < 1e-6 and sol.alignment.max() < 1e-6
    np.testing.assert_allclose(sol.loss, c.etf_loss(6, 2), rtol=1e-10)
    part = c.minimise(N=6, d=6, batches=c.disjoint_batches(6, 2), restarts=3, seed=0)
    np.testing.assert_allclose(part.loss, c.partition_batch_loss(2), rtol=1e-10)
    assert part.etf_deviation().min() > 0.1
    assert sol.gram.shape == (3, 6, 6)


def test_restart_does_not_depend_on_how_many_run():
    few = c.minimise(6, 4, c.all_batches(6, 3), restarts=2, seed=7)
    many = c.minimise(6, 4, c.all_batches(6, 3), restarts=5, seed=7)
    np.testing.assert_array_equal(few.U, many.U[:2])


def test_schemes():
    runs = {s: c.run_scheme(6, 6, 3, s, 150, seed=1) for s in c.SCHEMES}
    assert runs["all"].full_loss[-1] - runs["all"].optimum < 1e-3
    assert runs["all"].steps_to(1e-2) is not None
    assert runs["fixed"].steps_to(1e-6) is None
    for run in runs.values():
        assert run.full_loss.shape == (151,)
        assert run.full_loss[0] == runs["all"].full_loss[0]          # same start point
    assert runs["all"].optimum == pytest.approx(c.etf_loss(6, 6))


@pytest.mark.parametrize("call, error, text", [
    (lambda: c.all_batches(4, 5), ValueError, "B must be <= N"),
    (lambda: c.all_batches(4, 1), ValueError, "B must be >= 2"),
    (lambda: c.disjoint_batches(6, 4), ValueError, "B must divide N"),
    (lambda: c.minimise(4, 0, c.all_batches(4, 2)), ValueError, "d must be >= 1"),
    (lambda: c.minimise(4, 2.5, c.all_batches(4, 2)), TypeError, "d must be an integer"),
    (lambda: c.minimise(3, 3, c.all_batches(4, 2)), ValueError, "batch indices must lie in"),
    (lambda: c.minimise(4, 3, [[0, 0]]), ValueError, "distinct"),
    (lambda: c.minimise(4, 3, [[0.0, 1.0]]), TypeError, "integers"),
    (lambda: c.minimise(4, 3, c.all_batches(4, 2), tau=0.0), ValueError, "tau must be >= 0.01"),
    (lambda: c.minimise(4, 3, c.all_batches(4, 2), restarts=0), ValueError, "restarts must be >= 1"),
    (lambda: c.loss(np.ones((3, 2)), np.ones((3, 2)), c.all_batches(3, 2)), ValueError, "unit norm"),
    (lambda: c.loss(np.eye(3), np.eye(4), c.all_batches(3, 2)), ValueError, "V must have shape"),
    (lambda: c.simplex_etf(5, 3), ValueError, "d must be >= 4"),
    (lambda: c.cross_polytope(5, 3), ValueError, "N must be even"),
    (lambda: c.random_subset(5, 2, 11, seed=0), ValueError, "m must be <= 10"),
    (lambda: c.run_scheme(6, 6, 3, "random", 10), ValueError, "scheme must be one of"),
    (lambda: c.run_scheme(6, 6, 3, "all", 10).steps_to(0.0), ValueError, "gap must be > 0"),
])
def test_bad_input_is_refused_with_a_clear_message(call, error, text):
    with pytest.raises(error, match=text):
        call()


def test_spectral_partition_is_an_equal_partition_and_groups_high_affinity_pairs():
    from theorytk.contrastive.selection import affinity, spectral_partition
    from theorytk.random import generator

    start = c.minimise(8, 8, c.all_batches(8, 2), restarts=1, max_steps=0, seed=2)
    U, V = start.U[0], start.V[0]
    parts = spectral_partition(U, V, 4, generator(0))
    assert parts.shape == (2, 4)
    np.testing.assert_array_equal(np.sort(parts.ravel()), np.arange(8))
    A = affinity(U, V, 4)
    np.testing.assert_allclose(A, A.T)
    # two tight groups of 4 nearly equal directions: the clustering separates them exactly
    base = np.eye(8)[:2]
    X = np.repeat(base, 4, axis=0) + 0.05 * np.random.default_rng(0).standard_normal((8, 8))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    found = {frozenset(p) for p in spectral_partition(X, X, 4, generator(1))}
    assert found == {frozenset(range(4)), frozenset(range(4, 8))}
