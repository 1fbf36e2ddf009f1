"""Symbolic obligations of proofs.metastable_cot, and the theorems against the numerical solver.

* Every obligation holds: ``zero`` -> ``sympy.simplify(expr) == 0``; ``limit`` -> the limit
  as eps -> 0+ equals the stated value; ``first_order`` -> expr/eps has a finite non-zero
  limit (expr = c eps + O(eps^2)).
* The checks can fail: a wrong renewal constant, a wrong boosting law (1/f^2), the
  *forward* potential-theory formula on the same non-reversible chain, and a wrong
  eigenvalue gap (eps/M) fail the same checks.
* The sympy closed forms of the tiny chain equal theorytk's float solve of the same chain.
* Every Theorem has a source with a known confidence and evaluates on NumPy arrays; the
  paper's rates are marked secondary with unknown constants.
"""
import numpy as np
import pytest
import scipy.sparse as sparse
import sympy as sp

from proofs import metastable_cot as mc
from proofs.theorem import CONFIDENCE
from theorytk.metastable import chain_from_csr, hitting_times

OBLIGATIONS = mc.obligations()


def holds(kind, payload):
    if kind == "zero":
        return sp.simplify(payload) == 0
    if kind == "limit":
        expr, value = payload
        return sp.simplify(sp.limit(expr, mc.eps, 0, "+") - value) == 0
    if kind == "first_order":
        slope = sp.limit(payload / mc.eps, mc.eps, 0, "+")
        return bool(slope.is_finite) and slope != 0
    raise AssertionError(f"unknown obligation kind {kind!r}")


def test_obligations_are_present():
    for name in ("renewal_equals_exact_solve", "boost_one_over_f", "qsd_geometric_mean", "aggregation_stationary",
                 "potential_adjoint_identity", "capacity_same_for_reversal", "spectral_two_clusters_roots",
                 "two_exits_leading_term", "lift_is_covering_of_circulant", "local_recall_is_chance"):
        assert name in OBLIGATIONS
    assert {kind for kind, _ in OBLIGATIONS.values()} <= {"zero", "limit", "first_order"}


@pytest.mark.parametrize("name", sorted(OBLIGATIONS))
def test_obligation_holds(name):
    kind, payload = OBLIGATIONS[name]
    assert holds(kind, payload), f"obligation {name} does not hold: {payload}"


def test_wrong_variants_fail():
    K, M, eps, q, h, f = mc.K, mc.M, mc.eps, mc.q, mc.h, mc.f
    exact = mc.exact_hitting_time(mc.lazy_cyclic_chain(1), 0, [3, 4, 5])
    wrong_renewal = (K - 1) * (h + M * (1 - eps * q) / (eps * q))  # forgets the successful step
    assert not holds("zero", exact - wrong_renewal.subs({K: 2, M: 3, q: 1, h: 4}))
    base = (K - 1) * (h + 1 - M)
    assert not holds("zero", (mc.BOOSTED.expr - base) - (mc.RENEWAL.expr - base) / f**2)
    assert not holds("limit", (eps * exact, 2 * mc.LEADING_TERM.expr.subs({K: 2, M: 3, mc.Q: 1}) * eps))
    assert not holds("zero", mc.lazy_cyclic_chain(1)[0, 0] - 1)


def test_lift_without_decoys_is_not_a_covering():
    """The covering obligation can fail: without decoys the exit rows differ from the others."""
    assert not holds("zero", mc.covering_residual(*mc.lifted_chain_symbolic(decoys=False)))
    P, Phi, B = mc.lifted_chain_symbolic()
    assert not holds("zero", mc.covering_residual(P, Phi, B.subs(mc.eps, 2 * mc.eps)))


def test_symbolic_lift_is_the_generated_one():
    from theorytk.metastable import lifted_chain

    chain = lifted_chain(2, 5, 1e-2, shifts=(1, 2), decoy_shift=3, lazy=0.5, seed=3)
    exits = tuple(int(x) % 5 for x in chain.sparse_edges[:, 0])
    P, _, _ = mc.lifted_chain_symbolic(exits=exits)
    exact = np.array(P.subs({mc.eps: sp.Rational(1, 100), sp.Symbol("ell", positive=True): sp.Rational(1, 2)}),
                     dtype=float)
    np.testing.assert_allclose(chain.P.toarray(), exact, atol=1e-15)


def test_forward_potential_formula_is_not_an_identity():
    """The non-reversible test chain makes the adjoint obligation meaningful: forward objects fail."""
    P = mc._random_rational_chain(4, seed=7)
    pi = mc._stationary(P)
    assert sp.simplify(sp.diag(*pi) * P - (sp.diag(*pi) * P).T) != sp.zeros(4, 4)  # not reversible
    A, B = [0], [3]
    h = mc._equilibrium_potential(P, A, B)
    free = [0, 1, 2]
    t = (sp.eye(3) - P.extract(free, free)).LUsolve(sp.ones(3, 1))
    escape = 1 - (P[0, :] * h)[0, 0]
    cap = pi[0] * escape
    assert sp.simplify(t[0] - (pi.T * h)[0, 0] / cap) != 0


def test_tiny_chain_closed_forms_match_the_sparse_solver():
    for n_exits in (1, 2):
        P = mc.lazy_cyclic_chain(n_exits)
        closed = mc.exact_hitting_time(P, 0, [3, 4, 5])
        for value in (1e-1, 1e-3, 1e-6):
            dense = np.array(P.subs(mc.eps, value).evalf(), dtype=float)
            chain = chain_from_csr(sparse.csr_array(dense), [0, 0, 0, 1, 1, 1], start=0, goal=[3, 4, 5])
            numeric = hitting_times(chain).at(0)
            np.testing.assert_allclose(numeric, float(closed.subs(mc.eps, value)), rtol=1e-8)


def test_theorems_have_sources_and_evaluate():
    for theorem in mc.THEOREMS:
        assert theorem.source.confidence in CONFIDENCE
        if theorem.symbols:
            values = {s.name: np.array([2.0, 3.0]) if s.is_integer else np.array([0.01, 0.02]) for s in theorem.symbols}
            out = np.asarray(theorem.evaluate(**values), dtype=float)
            assert np.all(np.isfinite(out)) and np.all(out > 0)
    for theorem in (mc.PAPER_HITTING_TIME, mc.PAPER_PPO, mc.PAPER_DISTILLATION):
        assert theorem.source.confidence == "secondary" and not theorem.constant_known
    assert mc.BOOSTED.check(K=4, M=16, eps=0.01, q=1.0, h=3.0, f=200.0)  # f eps q >= 1 is named


def test_first_order_obligation_can_fail():
    """A second-order or a square-root deviation is not c eps + O(eps^2)."""
    assert holds("first_order", -2 * mc.eps / (2 * mc.eps + 3))
    assert not holds("first_order", mc.eps**2)
    assert not holds("first_order", sp.sqrt(mc.eps))
