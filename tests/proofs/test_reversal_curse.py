"""Symbolic obligations of proofs.reversal_curse, and its theorems against theorytk.reversal.

* Every entry of ``obligations()`` holds; wrong variants (a general Theta's reverse logit, a
  two-pair input column, unequal non-target logits, the envelope without the log M) fail them.
* Formula twins: the one-hot library trajectories satisfy the exact theorems.
"""
import numpy as np
import pytest
import sympy as sp

from proofs import reversal_curse as thm
from tests.proofs._obligations import holds
from theorytk.reversal import BilinearModel, entity_chains, entity_pairs, train_bilinear

OBLIGATIONS = thm.obligations()


def test_obligations_are_present():
    assert set(OBLIGATIONS) >= {"gradient_in_input_column", "column_update_is_local", "softmax_of_zeros",
                                "equal_logits_equal_probabilities", "below_chance_identity", "log_mp_first_order",
                                "inner_product_variance", "exponent_attains_shape", "subset_loss"}


@pytest.mark.parametrize("name", sorted(OBLIGATIONS))
def test_obligation_holds(name):
    kind, payload = OBLIGATIONS[name]
    assert holds(kind, payload), f"obligation {name} ({kind}) does not hold: {payload}"


# ------------------------------------------------------------ the checks can fail

def test_an_untied_reverse_logit_is_not_the_forward_one():
    theta = thm._theta(3)
    assert not holds("zero", theta[0, 1] - theta[1, 0])


def test_the_tied_gradient_moves_a_column_that_is_no_input():
    """Tied Theta (gradient (G + G^T)/2): the pair 0 -> 1 moves column 1, so B's reverse logits move."""
    theta = thm._theta(3)
    G = thm.one_hot_gradient(theta, [(0, 1)])
    tied = (G + G.T) / 2
    assert not holds("zero", sum(tied[a, 1] ** 2 for a in range(3)))


def test_unequal_non_target_logits_break_the_intransitivity_identity():
    a, b, c = sp.symbols("a b c", real=True)
    probs = thm._softmax([a, b, c])
    assert not holds("zero", probs[1] - thm.INTRANSITIVITY.expr.subs({thm.p: probs[0], thm.M: 3}))


def test_the_shape_needs_the_log_M():
    wrong = -sp.log(1 - thm.C / sp.sqrt(thm.d)) / sp.log(thm.r)
    assert not holds("zero", sp.exp(-wrong * sp.log(thm.r)) - (1 - thm.C / (sp.sqrt(thm.d) * sp.log(thm.M))))


# ------------------------------------------------------------------------ theorems

def test_theorem_sources():
    assert thm.REVERSE_LOSS_BOUND.source.arxiv == "2405.04669" and not thm.REVERSE_LOSS_BOUND.constant_known


def test_exponents_and_assumptions():
    assert thm.REVERSE_EXPONENT_BOUND.exponent("d") == sp.Rational(-1, 2)
    assert thm.REVERSE_ENVELOPE.exponent("d") == sp.Rational(-1, 2)
    assert thm.REVERSE_EXPONENT_BOUND.check(C=100.0, d=100.0, M=80.0, r=2.0) == ["C/sqrt(d) < log(M)"]
    assert thm.REVERSE_ENVELOPE.check(C=1.0, d=32.0, M=80.0) == ["d >= M"]
    assert thm.TRAINED_SUBSET_LOSS.check(N=4.0, n=5.0, L=1.0) == ["n <= N"]


def test_one_hot_trajectories_satisfy_the_exact_theorems():
    task = entity_pairs(6, both_directions=0.5)
    fit = train_bilinear(BilinearModel(task), lr=5.0, steps=40)
    M = task.M
    np.testing.assert_allclose(fit.probabilities("reverse"), thm.ONE_HOT_REVERSE_INVARIANCE.evaluate(M=M), rtol=1e-14)
    trained = np.c_[fit.probabilities("forward"), fit.probabilities("reverse_trained")]
    exact = thm.TRAINED_PAIR_PROBABILITY.evaluate(L=fit.train_loss()[:, None])
    np.testing.assert_allclose(trained, np.broadcast_to(exact, trained.shape), rtol=1e-12)
    chain = train_bilinear(BilinearModel(entity_chains(5)), lr=5.0, steps=40)
    first, transitive = chain.probabilities("first"), chain.probabilities("transitive")
    np.testing.assert_allclose(transitive, thm.INTRANSITIVITY.evaluate(p=first, M=15), rtol=1e-12)
    assert np.all(transitive <= thm.INTRANSITIVE_BELOW_CHANCE.evaluate(M=15) * (1 + 1e-15))
