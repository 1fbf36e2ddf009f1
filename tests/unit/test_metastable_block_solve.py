"""Cluster-deflated GMRES for hitting-time systems (theorytk.metastable._block_solve, issue 17 part 8).

* On small chains it solves :math:`(I - P_{UU}) x = b` (mean, second moment, absorption
  and signed random right-hand sides) to 1e-10 relative of a dense LAPACK solve, with the backward error
  it promises.
* Its iteration count does not grow with the cluster size (64 to 2048 states per cluster),
  and without the coarse correction (a planted mutant) it does not converge at all.
* :class:`HittingSolver` picks it for large chains with large clusters, gives the sparse LU's
  answers to 1e-10 relative (mean, second moment, committor, infinite times), and falls back to
  the sparse LU when the labels are not clusters or the clusters are cycles.
"""
import numpy as np
import pytest
import scipy.sparse as sparse
import scipy.sparse.linalg as spla

from theorytk.metastable import chain_from_csr, committor, cot_chain, hitting_times
from theorytk.metastable import _block_solve
from theorytk.metastable.exact import HittingSolver


def free_system(chain, target):
    """(A = I - P_UU as CSR, free states, cluster of each free state relabelled 0..G-1)."""
    free = np.ones(chain.n_states, dtype=bool)
    free[target] = False
    index = np.flatnonzero(free)
    A = sparse.eye_array(index.size, format="csr") - chain.P[index][:, index].tocsr()
    return A, index, np.unique(chain.labels[index], return_inverse=True)[1]


def backward_error(A, x, b):
    return np.abs(b - A @ x).max() / (abs(A).sum(axis=1).max() * np.abs(x).max() + np.abs(b).max())


@pytest.mark.parametrize("kwargs", [dict(), dict(back=0.5, exits=2), dict(distract=0.3), dict(lazy=0.0)])
def test_agrees_with_dense_solve_on_small_chains(kwargs):
    chain = cot_chain(4, 48, 1e-2, seed=3, **kwargs)
    A, index, groups = free_system(chain, chain.goal)
    solver = _block_solve.ClusterDeflatedSolver(A, groups)
    dense = A.toarray()
    mean = np.linalg.solve(dense, np.ones(index.size))
    absorb = np.asarray(chain.P[index][:, chain.goal].sum(axis=1)).ravel()  # solution: all ones
    assert np.count_nonzero(absorb) >= 1
    mixed = np.random.default_rng(1).standard_normal(index.size)
    for b in (np.ones(index.size), 2.0 * mean - 1.0, absorb, mixed):
        x = solver.solve(b)
        np.testing.assert_allclose(x, np.linalg.solve(dense, b), rtol=1e-10, atol=0)
        assert solver.backward_error == pytest.approx(backward_error(A, x, b), rel=1e-12)
        assert solver.backward_error <= _block_solve.ACCEPT
    assert np.all(solver.solve(np.zeros(index.size)) == 0.0) and solver.iterations == 0


def test_iterations_do_not_grow_with_cluster_size():
    counts = []
    for size in (64, 256, 1024, 2048):
        chain = cot_chain(max(2, 8192 // size), size, 1e-3, seed=0)
        A, _, groups = free_system(chain, chain.goal)
        solver = _block_solve.ClusterDeflatedSolver(A, groups)
        solver.solve(np.ones(A.shape[0]))
        assert solver.backward_error <= _block_solve.TOLERANCE
        counts.append(solver.iterations)
    # 32x the cluster size: the count stays within a few restart cycles of the smallest
    assert max(counts) <= min(counts) + 2 * _block_solve.RESTART, counts


def test_without_the_coarse_correction_gmres_does_not_converge(monkeypatch):
    # planted mutant: Jacobi alone leaves the K near-null cluster directions undeflated
    chain = cot_chain(8, 256, 1e-3, seed=0)
    A, _, groups = free_system(chain, chain.goal)
    solver = _block_solve.ClusterDeflatedSolver(A, groups)
    monkeypatch.setattr(solver, "_coarse_correction", np.zeros_like)
    with pytest.raises(_block_solve.NotConverged, match="backward error"):
        solver.solve(np.ones(A.shape[0]))


def lu_answer(solver, rhs):
    """The sparse LU's answer on the solver's free states, computed here independently."""
    free = np.flatnonzero(solver.finite & ~solver.target)
    A = sparse.eye_array(free.size, format="csc") - solver.chain.P[free][:, free].tocsc()
    out = np.zeros(solver.chain.n_states)
    out[~solver.finite] = np.inf
    out[free] = spla.splu(A).solve(rhs(free))
    return out


def assert_relative(x, y, rtol):
    finite = np.isfinite(y)
    np.testing.assert_array_equal(np.isfinite(x), finite)
    np.testing.assert_allclose(x[finite], y[finite], rtol=rtol, atol=0)


def test_hitting_solver_uses_it_on_large_chains_and_agrees_with_the_lu():
    chain = cot_chain(9, 1024, 1e-2, seed=4)
    result = hitting_times(chain, moments=2)
    solver = HittingSolver(chain, chain.goal)
    assert solver.method == "deflated gmres"
    mean = lu_answer(solver, lambda free: np.ones(free.size))
    assert_relative(result.times, mean, 1e-10)
    assert_relative(result.second_moment, lu_answer(solver, lambda free: 2.0 * mean[free] - 1.0), 1e-10)
    assert solver.method == "deflated gmres"


def test_infinite_times_and_committor_through_the_iterative_path():
    # no wrap: clusters 9 (the goal) cannot reach cluster 8, the target; clusters 0..7 are the free states
    chain = cot_chain(10, 1024, 1e-2, wrap=False, seed=5)
    target = chain.cluster(8)
    solver = HittingSolver(chain, target)
    assert solver.method == "deflated gmres"
    times = solver.mean()
    assert np.all(np.isinf(times[chain.cluster(9)]))
    assert_relative(times, lu_answer(solver, lambda free: np.ones(free.size)), 1e-10)
    A, B = chain.cluster(0)[:10], target
    q = committor(chain, A, B)
    both = HittingSolver(chain, np.concatenate([A, B]))
    expected = lu_answer(both, lambda free: np.asarray(chain.P[free][:, B].sum(axis=1)).ravel())
    free = both.finite & ~both.target
    np.testing.assert_allclose(q[free], expected[free], rtol=0, atol=1e-10)
    assert np.all(q[B] == 1.0) and np.all(q[A] == 0.0)


@pytest.mark.parametrize("case", ["random labels", "cycles"])
def test_falls_back_to_the_lu_where_the_labels_do_not_deflate(case):
    if case == "random labels":
        base = cot_chain(40, 256, 1e-3, seed=0)
        labels = np.random.default_rng(0).integers(0, 40, base.n_states)
        chain = chain_from_csr(base.P, labels, start=0, goal=base.goal)
    else:  # degree=1: each cluster a lazy cycle, mixing in ~M^2 steps
        chain = cot_chain(40, 256, 1e-3, degree=1, seed=0)
    solver = HittingSolver(chain, chain.goal)
    assert solver.method == "deflated gmres"
    times = solver.mean()
    assert solver.method == "sparse lu"
    assert_relative(times, lu_answer(solver, lambda free: np.ones(free.size)), 1e-12)


@pytest.mark.parametrize(("clusters", "size"), [(4, 64), (2048, 8)])
def test_small_chains_and_small_clusters_keep_the_lu(clusters, size):
    chain = cot_chain(clusters, size, 1e-3, seed=0)
    assert HittingSolver(chain, chain.goal).method == "sparse lu"


def test_a_forced_method_is_used_and_agrees_with_the_automatic_choice():
    chain = cot_chain(3, 64, 1e-3, seed=2)
    auto = HittingSolver(chain, chain.goal)
    assert auto.method == "sparse lu"                                # small: the LU
    forced = HittingSolver(chain, chain.goal, method="deflated gmres")
    assert forced.method == "deflated gmres"
    np.testing.assert_allclose(forced.mean(), auto.mean(), rtol=1e-10)
    with pytest.raises(ValueError, match="method"):
        HittingSolver(chain, chain.goal, method="cholesky")
