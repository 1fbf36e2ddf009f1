"""theorytk.metastable public API: construction, exact analysis, bad input, optional deeptime.

* ``cot_chain`` builds row-stochastic chains with uniform clusters and the documented edges.
* ``chain_from_csr`` refuses bad matrices, labels, states and sparse edges with clear errors.
* The exact solver gives +inf where the target is not reached almost surely, and Monte
  Carlo refuses such starts; boosting refuses factors that break a row.
* Committors, stationary law, quasi-stationary exit and aggregation on small cases.
* Optional: agreement with ``deeptime.markov.tools.analysis.mfpt`` (skipped if absent).
"""
import numpy as np
import pytest
import scipy.sparse as sparse

from theorytk.metastable import (
    WalkersCensored,
    aggregate,
    boost_sparse_edges,
    chain_from_csr,
    committor,
    cot_chain,
    distill,
    finetune,
    hitting_times,
    quasi_stationary,
    simulate_hitting,
    sparse_edge_search,
    stationary_distribution,
)


def test_cot_chain_structure():
    chain = cot_chain(4, 10, 0.01, back=0.5, distract=0.3, seed=2)
    P = chain.P.toarray()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-14)
    assert chain.n_clusters == 5 and chain.goal_cluster == 3 and chain.n_states == 50
    np.testing.assert_array_equal(chain.goal, np.arange(30, 40))
    assert set(chain.edge_kinds.tolist()) == {0, 1, 2, 3, 4}
    assert np.all(chain.labels[chain.sparse_edges[:, 0]] != chain.labels[chain.sparse_edges[:, 1]])
    # the cluster kernels are doubly stochastic (uniform law in each cluster): eps only scales rows
    tiny = cot_chain(4, 10, 1e-13, back=0.5, distract=0.3, seed=2).P.toarray()
    for k in range(5):
        block = tiny[10 * k:10 * k + 10, 10 * k:10 * k + 10]
        np.testing.assert_allclose(block.sum(axis=0), 1.0, atol=1e-11)
    assert not chain.P.data.flags.writeable


def test_chain_from_csr_validates():
    P = np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.5, 0.5]])
    chain = chain_from_csr(P, [0, 0, 1], start=0, goal=2)
    assert chain.sparse_edges.tolist() == [[1, 2], [2, 1]]
    with pytest.raises(ValueError, match="rows summing to 1"):
        chain_from_csr(P * 1.1, [0, 0, 1], start=0, goal=2)
    with pytest.raises(ValueError, match="non-negative"):
        chain_from_csr(np.array([[1.5, -0.5], [0.0, 1.0]]), [0, 1], start=0, goal=1)
    with pytest.raises(ValueError, match="square"):
        chain_from_csr(np.ones((2, 3)) / 3, [0, 1], start=0, goal=1)
    with pytest.raises(ValueError, match="exactly 0 .. K-1"):
        chain_from_csr(P, [0, 0, 2], start=0, goal=2)
    with pytest.raises(ValueError, match="shape"):
        chain_from_csr(P, [0, 1], start=0, goal=2)
    with pytest.raises(ValueError, match="start must be <= 2"):
        chain_from_csr(P, [0, 0, 1], start=3, goal=2)
    with pytest.raises(ValueError, match="transitions of the chain"):
        chain_from_csr(P, [0, 0, 1], start=0, goal=2, sparse_edges=[[0, 2]])
    with pytest.raises(ValueError, match="different clusters"):
        chain_from_csr(P, [0, 0, 1], start=0, goal=2, sparse_edges=[[0, 1]])
    with pytest.raises(ValueError, match="finite"):
        chain_from_csr(np.array([[np.nan, 1.0], [0.0, 1.0]]), [0, 1], start=0, goal=1)


def test_cot_chain_bad_arguments():
    with pytest.raises(ValueError, match="clusters"):
        cot_chain(1, 4, 0.1)
    with pytest.raises(ValueError, match="eps"):
        cot_chain(2, 4, 1.5)
    with pytest.raises(TypeError, match="cluster_size"):
        cot_chain(2, 4.0, 0.1)
    with pytest.raises(ValueError, match="< 1"):
        cot_chain(3, 4, 0.6, q=1.0, back=1.0)


def test_unreachable_target_gives_inf_and_monte_carlo_refuses():
    P = np.array([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    chain = chain_from_csr(P, [0, 1, 2], start=0, goal=2)
    times = hitting_times(chain).times
    assert times[0] == np.inf and times[1] == np.inf and times[2] == 0
    with pytest.raises(ValueError, match="almost surely"):
        simulate_hitting(chain, walkers=10)
    with pytest.raises(WalkersCensored, match="max_steps"):
        simulate_hitting(chain, walkers=50, max_steps=5, seed=0)


def test_exact_small_cases():
    # a two-state chain: E_0[tau_1] = 1/p, committor and stationary law in closed form
    p, r = 0.2, 0.3
    chain = chain_from_csr(np.array([[1 - p, p], [r, 1 - r]]), [0, 1], start=0, goal=1)
    assert hitting_times(chain).at(0) == pytest.approx(1 / p, rel=1e-12)
    np.testing.assert_allclose(stationary_distribution(chain), [r / (p + r), p / (p + r)], rtol=1e-12)
    ht = hitting_times(chain, moments=2)
    assert ht.std(0) == pytest.approx(np.sqrt(1 - p) / p, rel=1e-12)  # geometric law
    gambler = np.diag(np.full(4, 0.5), 1) + np.diag(np.full(4, 0.5), -1)
    gambler[0] = [1, 0, 0, 0, 0]
    gambler[4] = [0, 0, 0, 0, 1]
    walk = chain_from_csr(gambler, [0, 0, 0, 0, 1], start=2, goal=4)
    np.testing.assert_allclose(committor(walk, [0], [4]), [0, 0.25, 0.5, 0.75, 1], atol=1e-12)
    with pytest.raises(ValueError, match="disjoint"):
        committor(walk, [0, 4], [4])


def test_quasi_stationary_and_aggregation():
    chain = cot_chain(3, 6, 0.05, seed=1)
    qsd = quasi_stationary(chain, 0)
    assert qsd.mean_exit_solved == pytest.approx(qsd.mean_exit, rel=1e-10)
    Q, pi_bar = aggregate(chain.P, chain.labels, stationary_distribution(chain))
    np.testing.assert_allclose(pi_bar @ Q, pi_bar, atol=1e-12)
    meta = distill(chain)
    np.testing.assert_allclose(meta.Q_rescaled.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="method"):
        distill(chain, method="pcca")


def test_boost_and_search_and_finetune_validate():
    chain = cot_chain(3, 6, 0.05, seed=1)
    with pytest.raises(ValueError, match="largest allowed factor"):
        boost_sparse_edges(chain, 30.0)
    with pytest.raises(ValueError, match="factor must be > 0"):
        boost_sparse_edges(chain, 0.0)
    with pytest.raises(ValueError, match="transitions of the chain"):
        boost_sparse_edges(chain, 2.0, edges=[[0, 17]])
    with pytest.raises(ValueError, match="budget"):
        sparse_edge_search(chain, budget=0)
    with pytest.raises(ValueError, match="method"):
        finetune(chain, chain.sparse_edges, method="dpo")
    with pytest.raises(ValueError, match="at least one edge"):
        finetune(chain, np.zeros((0, 2), dtype=int))
    with pytest.raises(TypeError, match="CotChain"):
        hitting_times(chain.P)


def test_finetune_reinforce_and_ppo_raise_the_rewarded_probability():
    chain = cot_chain(3, 6, 0.05, seed=1)
    for method in ("ppo-clip", "reinforce"):
        result = finetune(chain, chain.sparse_edges, method=method, iterations=5, rollouts=16, horizon=200, seed=3)
        assert result.sparse_probability[-1] > result.sparse_probability[0]
        assert result.hitting_time[-1] < result.hitting_time[0]
        assert result.tv_drift[0] == 0.0


@pytest.mark.parametrize("method", ["ppo-clip", "reinforce"])
def test_finetune_at_a_huge_step_saturates_or_reports_divergence(method):
    from theorytk.metastable import FinetuneDiverged, SoftmaxModel, pretrain

    chain = cot_chain(3, 6, 0.05, seed=1)
    saturated = finetune(chain, chain.sparse_edges, method=method, iterations=5, rollouts=16, horizon=200, lr=1e8,
                         seed=3)          # probabilities underflow to 0 off the rewarded edges: no 0/0 any more
    assert np.all(np.isfinite(saturated.sparse_probability)) and np.all(np.isfinite(saturated.tv_drift))
    assert saturated.sparse_probability[-1] > 0.99 and np.isfinite(saturated.hitting_time[-1])
    near_max = SoftmaxModel(chain, pretrain(chain).logits + 1.7e308)     # finite logits one step from overflow
    with pytest.raises(FinetuneDiverged, match=r"iteration 1 of 5; lower lr \(now 1e\+308\)"):
        finetune(chain, chain.sparse_edges, method=method, iterations=5, rollouts=16, horizon=200, lr=1e308, seed=3,
                 model=near_max)


def test_deeptime_mfpt_agrees():
    analysis = pytest.importorskip("deeptime.markov.tools.analysis")
    chain = cot_chain(3, 8, 0.01, back=0.5, seed=4)
    ours = hitting_times(chain, target=chain.goal).times
    dense = chain.P.toarray()
    for x in (0, 5, 9):
        theirs = analysis.mfpt(dense, chain.goal, origin=[x])
        assert ours[x] == pytest.approx(theirs, rel=1e-10)
    assert sparse.issparse(chain.P)


def test_sparse_eigen_paths_equal_dense(monkeypatch):
    from theorytk.metastable import exact, metastable_eigenvalues

    chain = cot_chain(4, 12, 1e-3, back=0.5, seed=5)
    dense_ladder = metastable_eigenvalues(chain)
    dense_qsd = quasi_stationary(chain, 1)
    monkeypatch.setattr(exact, "_DENSE_LIMIT", 10)
    sparse_ladder = metastable_eigenvalues(chain)
    sparse_qsd = quasi_stationary(chain, 1)
    np.testing.assert_allclose(np.sort_complex(sparse_ladder.eigenvalues), np.sort_complex(dense_ladder.eigenvalues),
                               atol=1e-10)
    assert abs(sparse_ladder.next_eigenvalue - dense_ladder.next_eigenvalue) < 1e-10
    assert sparse_qsd.eigenvalue == pytest.approx(dense_qsd.eigenvalue, abs=1e-12)
    np.testing.assert_allclose(sparse_qsd.nu, dense_qsd.nu, atol=1e-10)
    assert dense_ladder.gap_ratio < 0.05


def test_predicted_recall_is_a_probability_growing_with_budget():
    from theorytk.metastable import predicted_recall

    chain = cot_chain(3, 8, 1e-3, seed=2)
    values = [predicted_recall(chain, b) for b in (1_000, 20_000, 80_000, 400_000)]
    assert values[0] == 0.0 and np.all(np.diff(values) > 0) and values[-1] <= 1.0
    with pytest.raises(ValueError, match="one forward exit"):
        predicted_recall(cot_chain(3, 8, 1e-3, exits=2, seed=2), 10_000)


def test_hitting_solver_reuses_one_factorisation():
    from theorytk.metastable import HittingSolver

    chain = cot_chain(3, 6, 0.05, seed=1)
    solver = HittingSolver(chain, chain.goal)
    mean = solver.mean()
    # absorption into the whole target is 1 from everywhere; into a part, a probability
    np.testing.assert_allclose(solver.absorption(chain.goal)[solver.finite], 1.0, atol=1e-12)
    part = solver.absorption(chain.goal[:3])
    assert np.all((part >= -1e-12) & (part <= 1 + 1e-12))
    with pytest.raises(ValueError, match="subset of the target"):
        solver.absorption([0])
    times = hitting_times(chain)
    start = np.zeros(chain.n_states)
    start[[0, 1]] = 0.5
    assert times.at(start) == pytest.approx(0.5 * (mean[0] + mean[1]), rel=1e-12)
    with pytest.raises(ValueError, match="probability vector"):
        times.at(np.full(chain.n_states, 1.0))
    with pytest.raises(ValueError, match="moments=2"):
        times.std(0)


def test_large_chain_hitting_times_match_the_renewal_identity():
    # 16 clusters of 512 free states: HittingSolver takes the cluster-deflated GMRES path
    # (issue 17 part 8); the renewal identity solves each cluster densely on its own
    from theorytk.metastable import HittingSolver, renewal_hitting_time

    chain = cot_chain(17, 512, 1e-3, seed=6)
    solver = HittingSolver(chain, chain.goal)
    assert solver.method == "deflated gmres"
    times = hitting_times(chain, moments=2)
    # both sides are limited by the conditioning, ||A^-1|| ||A|| eps ~ 2 * 8.2e6 * 2.2e-16 = 3.6e-9:
    # against a long-double-refined solve, GMRES was off by 4.7e-12, the renewal route by 1.2e-10
    assert times.at(chain.start) == pytest.approx(renewal_hitting_time(chain), rel=1e-9)
    assert times.std(chain.start) > 0 and solver.method == "deflated gmres"
    # the absorption probabilities of the whole target are 1 on this path too
    np.testing.assert_allclose(solver.absorption(chain.goal)[solver.finite], 1.0, rtol=0, atol=1e-10)
