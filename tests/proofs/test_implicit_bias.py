"""Symbolic obligations of proofs.implicit_bias, checks that can fail, and the theorems against theorytk.implicit_bias.

* Every entry of ``obligations()`` holds.
* The checks can fail: content-dependent attention breaks the midpoint identity, a wrong CoT update
  breaks the recursion, a slope of 2||w_hat|| fails the slope limit.
* Formula twins: the library's SVM on +-(a, b) has ||w||^2 = sum alpha = 1/(a^2 + b^2); position-only
  attention features of even pairs are not separable (the LP agrees with the identity).
"""
import numpy as np
import pytest
import sympy as sp

from proofs import implicit_bias as thm
from proofs.theorem import CONFIDENCE, Theorem
from tests.proofs._obligations import holds
from theorytk.implicit_bias import OneLayerTransformer, even_pairs, max_margin, separable

OBLIGATIONS = thm.obligations()


def test_obligations_are_present():
    for name in ("slope_limit", "eta_t_loss_is_sum_alpha", "two_point_svm", "direction_leading_term",
                 "midpoint_identity", "cot_recursion", "truncated_cot_recursion", "loss_exponent_is_minus_one"):
        assert name in OBLIGATIONS


@pytest.mark.parametrize("name", sorted(OBLIGATIONS))
def test_obligation_holds(name):
    kind, payload = OBLIGATIONS[name]
    assert holds(kind, payload), f"obligation {name} ({kind}) does not hold: {payload}"


def test_theorems_have_sources_and_confidence():
    for theorem in thm.THEOREMS:
        assert isinstance(theorem, Theorem)
        assert theorem.source.confidence in CONFIDENCE and theorem.source.where
    assert thm.LOSS_RATE.source.arxiv == "2505.00926"
    assert not thm.DIRECTION.constant_known
    assert thm.LOSS_RATE.exponent("t") == -1
    assert float(thm.RATE_CONSTANT.evaluate(w_hat=2.0)) == 4.0


# ------------------------------------------------------------ the checks can fail

def test_content_dependent_attention_breaks_the_midpoint_identity():
    """If the weight on the first token depends on whether it matches the last, h_aa + h_bb != h_ab + h_ba."""
    same, other = sp.symbols("q_same q_other", positive=True)
    weight = {True: same, False: other}
    def h(first, last):
        p1 = weight[first == last]
        return sp.Matrix([p1 * int(first == "a") + (1 - p1) * int(last == "a"),
                          p1 * int(first == "b") + (1 - p1) * int(last == "b"), p1, 1 - p1])
    gap = h("a", "a") + h("b", "b") - h("a", "b") - h("b", "a")
    assert not holds("zero", sum(sp.Abs(x) for x in gap))


def test_a_wrong_cot_update_fails():
    wrong = sum(int((1 if 0 == s[-1] else 0) != sum(s) % 2) for s in [(0,), (1,), (0, 1), (1, 1)])
    assert wrong > 0
    # truncated CoT that appends "first = last" the other way round (a where they differ) is wrong
    wrong_truncated = 0
    for s in [(0, 0), (0, 1, 1), (1, 0, 1, 1)]:
        window = list(s)
        for _ in range(len(s) - 1):
            window = window[1:] + [1 - (window[0] ^ window[-1])]
        wrong_truncated += int(window[-1] != sum(s) % 2)
    assert wrong_truncated > 0
    s, w = sp.symbols("s w_hat", positive=True)
    assert not holds("zero", sp.limit(sp.diff(2 * w * s, s), s, sp.oo) - w)


# ------------------------------------------------------------ formula twins with the library

@pytest.mark.parametrize("a, b", [(1.0, 1.0), (0.3, 2.0), (2.5, 0.1)])
def test_library_svm_matches_the_two_point_closed_form(a, b):
    svm = max_margin([[a, b], [-a, -b]], [1.0, -1.0])
    assert abs(svm.norm**2 - 1 / (a * a + b * b)) < 1e-13
    assert abs(svm.alpha.sum() - svm.norm**2) < 1e-13


@pytest.mark.parametrize("L", [3, 4, 5])
def test_position_only_attention_features_are_not_separable(L):
    data = even_pairs(L)
    rng = np.random.default_rng(L)
    W = np.zeros((L + 2, L + 2))
    W[2:, 2:] = rng.standard_normal((L, L))      # scores depend on positions only
    model = OneLayerTransformer(L, W, np.zeros(L + 2))
    assert not separable(model.features(data), data.labels)
