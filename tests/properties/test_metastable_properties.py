"""Hypothesis properties of theorytk.metastable (notes/metastable.md, Sec. 5).

1. Monte Carlo agrees with the exact solve: |mean - exact| <= K_MC = 4.5 standard errors
   (two-sided false-alarm rate ~7e-6 per example), 2,000 walkers, K in [2, 4], M in
   [3, 12], eps in [0.02, 0.2].
2. Exact 1/eps structure: with one exit, E(eps) - (K-1) M (1 - eps q)/(eps q) does not
   depend on eps (to 1e-8 E, the solver's accuracy for eps >= 1e-6), and
   eps E(eps) -> sum_k M_k / sum q.
3. Aggregation identity for arbitrary stochastic matrices and partitions (atol 1e-10).
4. Rewarding every sparse edge never hurts in the metastable regime (boosted sparse
   mass per row <= 0.1), including back and trap edges; rewarding only the trap
   (distractor) edges is the documented counterexample.
5. QSD exit mean = 1/(1 - lambda); potential theory with adjoint objects is exact;
   capacities of P and P* agree (rtol 1e-9).
6. Cross-check against deeptime's mfpt (deeptime is in the ``test`` extra; skipped only if absent).
7. Twins: ``leading_term``, ``renewal_hitting_time`` (also on boosted chains) and
   ``quasi_stationary``'s mean exit equal ``proofs.metastable_cot`` LEADING_TERM, RENEWAL,
   BOOSTED and QSD_EXIT evaluated at the chain's parameters, for random admissible chains.
"""
import numpy as np
import pytest
import scipy.sparse as sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs import metastable_cot as thm
from theorytk.metastable import (
    aggregate,
    boost_sparse_edges,
    chain_from_csr,
    cot_chain,
    hitting_times,
    leading_term,
    potential_theory,
    quasi_stationary,
    renewal_hitting_time,
    simulate_hitting,
)
from theorytk.metastable.chains import DISTRACTOR
from theorytk.metastable.exact import path_exits

K_MC = 4.5
seeds = st.integers(min_value=0, max_value=2**32 - 1)
sizes = st.tuples(st.integers(2, 4), st.integers(3, 12))
#: back / distract weights: 0 or at least 1e-3 (a subnormal weight gives an edge of probability 0, refused)
weights = st.one_of(st.just(0.0), st.floats(1e-3, 1.0))


@settings(max_examples=20)
@given(sizes, st.floats(0.02, 0.2), seeds)
def test_monte_carlo_agrees_with_exact(size, eps, seed):
    K, M = size
    chain = cot_chain(K, M, eps, back=0.3, seed=seed)
    exact = hitting_times(chain).at(chain.start)
    sample = simulate_hitting(chain, walkers=2000, seed=seed)
    assert abs(sample.mean - exact) <= K_MC * sample.se, (sample.mean, sample.se, exact)


@settings(max_examples=25)
@given(sizes, st.floats(1e-5, 0.2), st.floats(0.3, 3.0), seeds)
def test_exact_one_over_eps_structure(size, eps, q, seed):
    K, M = size
    eps = min(eps, 0.5 / q)

    def solve(e):
        chain = cot_chain(K, M, e, q=q, seed=seed)
        return hitting_times(chain).at(chain.start)

    def constant(e):
        return solve(e) - (K - 1) * M * (1 - e * q) / (e * q)

    # the constant is a difference of two numbers of size E: compare it at the solver's accuracy, 1e-8 E
    np.testing.assert_allclose(constant(eps), constant(eps / 3), rtol=0, atol=1e-8 * solve(eps / 3))
    chain = cot_chain(K, M, 1e-6, q=q, exits=min(2, M), seed=seed)
    ratio = hitting_times(chain).at(chain.start) / leading_term(chain)
    assert abs(ratio - 1) < 1e-3


@settings(max_examples=40)
@given(st.integers(2, 30), st.integers(1, 6), seeds)
def test_aggregation_identity_any_chain(n, parts, seed):
    rng = np.random.default_rng(seed)
    P = rng.random((n, n)) * (rng.random((n, n)) < 0.5) + 1e-3 * np.eye(n, k=1) + 1e-3 * np.eye(n, k=1 - n)
    P /= P.sum(axis=1, keepdims=True)
    labels = np.concatenate([np.arange(min(parts, n)), rng.integers(0, min(parts, n), n - min(parts, n))])
    evals, evecs = np.linalg.eig(P.T)
    pi = np.abs(evecs[:, np.argmin(np.abs(evals - 1))].real)
    pi /= pi.sum()
    Q, pi_bar = aggregate(sparse.csr_array(P), labels, pi)
    np.testing.assert_allclose(pi_bar @ Q, pi_bar, atol=1e-10)
    np.testing.assert_allclose(Q.sum(axis=1), 1.0, atol=1e-12)


@settings(max_examples=30)
@given(sizes, st.floats(1e-3, 0.05), weights, weights, st.floats(0.0, 1.0), seeds)
def test_rewarding_every_sparse_edge_never_hurts_in_regime(size, eps, back, distract, fraction, seed):
    K, M = size
    chain = cot_chain(K, M, eps, back=back, distract=distract, seed=seed)
    rows = np.bincount(chain.sparse_edges[:, 0], weights=chain.edge_probabilities, minlength=chain.n_states)
    f_max = 0.1 / rows.max()
    f = 1.0 + fraction * (f_max - 1.0) if f_max > 1 else 1.0
    before = hitting_times(chain).at(chain.start)
    after = hitting_times(boost_sparse_edges(chain, f)).at(chain.start)
    assert after <= before * (1 + 1e-9)


def test_rewarding_only_trap_edges_hurts():
    """Documented counterexample: the bound needs every sparse edge rewarded."""
    chain = cot_chain(4, 8, 1e-3, distract=1.0, seed=3)
    trap = chain.sparse_edges[chain.edge_kinds == DISTRACTOR]
    before = hitting_times(chain).at(chain.start)
    assert hitting_times(boost_sparse_edges(chain, 2.0, trap)).at(chain.start) > 1.5 * before


@settings(max_examples=20)
@given(sizes, st.floats(1e-3, 0.2), weights, seeds)
def test_qsd_and_potential_theory_identities(size, eps, back, seed):
    K, M = size
    chain = cot_chain(K, M, eps, back=back, seed=seed)
    qsd = quasi_stationary(chain, 0)
    assert qsd.mean_exit_solved == pytest.approx(qsd.mean_exit, rel=1e-9)
    pt = potential_theory(chain, chain.cluster(0), chain.goal)
    assert pt.mean_adjoint == pytest.approx(pt.formula_adjoint, rel=1e-9)
    assert pt.capacity_reversed == pytest.approx(pt.capacity, rel=1e-9)


def test_deeptime_cross_check():
    analysis = pytest.importorskip("deeptime.markov.tools.analysis")
    chain = cot_chain(3, 10, 0.02, back=0.5, seed=9)
    dense = chain.P.toarray()
    ours = hitting_times(chain).times
    theirs = analysis.mfpt(dense, chain.goal)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    assert chain_from_csr(dense, chain.labels, start=0, goal=chain.goal).n_states == dense.shape[0]


# ----------------------------------------------------------------------------- twins: theorytk (numeric) = proofs (sympy)
admissible = st.tuples(sizes, st.floats(1e-5, 0.1), st.floats(0.3, 3.0), st.integers(1, 2), seeds)


def _cluster_terms(chain):
    """(M_k, s_k, h_k) per cluster before the goal: size, sparse probability and E^{P0}[entry_k -> exit_k].

    h_k is solved by theorytk's general solver on the cluster kernel with the exit row renormalised, an
    independent route from ``renewal_hitting_time``'s own dense solve.
    """
    entry, out = chain.start, []
    for k, exits in enumerate(path_exits(chain)):
        (x, y), states = exits[0], chain.cluster(k)
        s = float(chain.P[x, y])
        block = chain.P[states][:, states].toarray()
        block[np.searchsorted(states, x)] /= 1.0 - s
        local = chain_from_csr(block, np.zeros(states.size, dtype=int), start=int(np.searchsorted(states, entry)),
                               goal=[int(np.searchsorted(states, x))])
        out.append((states.size, s, hitting_times(local).at(local.start)))
        entry = int(y)
    return out


@settings(max_examples=25)
@given(admissible)
def test_leading_term_twin(params):
    (K, M), eps, q, exits, seed = params
    eps = min(eps, 0.5 / q)
    chain = cot_chain(K, M, eps, q=q, exits=min(exits, M), seed=seed)
    expected = float(thm.LEADING_TERM.evaluate(K=K, M=M, eps=eps, Q=min(exits, M) * q))
    assert leading_term(chain) == pytest.approx(expected, rel=1e-12)


@settings(max_examples=25)
@given(admissible, st.floats(1.0, 20.0))
def test_renewal_and_boosted_twins(params, f):
    (K, M), eps, q, _, seed = params
    eps = min(eps, 0.5 / q)
    f = min(f, 0.5 / (eps * q))
    chain = cot_chain(K, M, eps, q=q, seed=seed)
    terms = _cluster_terms(chain)
    # one cluster's term is RENEWAL (BOOSTED) with K = 2; the chain's value sums them
    renewal = sum(float(thm.RENEWAL.evaluate(K=2, M=Mk, eps=eps, q=q, h=h)) for Mk, _, h in terms)
    boosted = sum(float(thm.BOOSTED.evaluate(K=2, M=Mk, eps=eps, q=q, h=h, f=f)) for Mk, _, h in terms)
    assert renewal_hitting_time(chain) == pytest.approx(renewal, rel=1e-9)
    assert renewal_hitting_time(boost_sparse_edges(chain, f)) == pytest.approx(boosted, rel=1e-9)
    assert all(s == pytest.approx(eps * q, rel=1e-12) for _, s, _ in terms)


@settings(max_examples=20)
@given(sizes, st.floats(1e-3, 0.2), weights, seeds)
def test_qsd_exit_twin(size, eps, back, seed):
    K, M = size
    qsd = quasi_stationary(cot_chain(K, M, eps, back=back, seed=seed), 0)
    assert qsd.mean_exit == pytest.approx(float(thm.QSD_EXIT.evaluate(lam=qsd.eigenvalue)), rel=1e-12)


def test_underflowing_edge_weight_is_refused():
    """distract = 5e-324 used to give trap edges of probability 0 that boost_sparse_edges then refused."""
    with pytest.raises(ValueError, match="underflows"):
        cot_chain(2, 3, 0.03125, distract=5e-324)


def test_twins_can_fail():
    """A forgotten successful step (renewal - (K-1)) or a wrong boosting law is caught at these tolerances."""
    chain = cot_chain(3, 8, 1e-3, seed=1)
    terms = _cluster_terms(chain)
    renewal = sum(float(thm.RENEWAL.evaluate(K=2, M=Mk, eps=1e-3, q=1.0, h=h)) for Mk, _, h in terms)
    assert renewal_hitting_time(chain) - len(terms) != pytest.approx(renewal, rel=1e-9)
    assert leading_term(chain) != pytest.approx(float(thm.LEADING_TERM.evaluate(K=3, M=8, eps=1e-3, Q=2.0)), rel=1e-3)
