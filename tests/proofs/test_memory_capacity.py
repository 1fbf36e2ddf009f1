"""Symbolic obligations of proofs.memory_capacity, and its theorems against theorytk.memory.

* Every entry of ``obligations()`` holds (``zero``: simplifies to 0; ``positive``: sympy decides > 0).
* The checks can fail: an SSM with one more mode than its factorisation, the block including the
  diagonal, a wrong Eckart-Young tail and a non-conjugate-closed frequency set fail the same checks.
* Formula twins: the library's caps equal the theorems, its COPY constructions' exact errors
  equal the bound, its roots-of-unity frequencies are the proofs module's.
"""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs import memory_capacity as thm
from tests.proofs._obligations import holds
from theorytk import memory
from theorytk.memory.operators import roots_of_unity_frequencies

OBLIGATIONS = thm.obligations()


def test_obligations_are_present():
    for name in ("ssm_factorisation", "selective_factorisation", "fir_zero_columns", "linear_attention_factorisation",
                 "entropy_uniform", "entropy_concave", "copy_mse_is_frobenius", "eckart_young_tail",
                 "construction_tail", "bound_positive_below_L_c", "lti_projection_idempotent_Lc5_n3",
                 "lti_projection_error_Lc6_n4"):
        assert name in OBLIGATIONS
    assert len(OBLIGATIONS) >= 30


@pytest.mark.parametrize("name", sorted(OBLIGATIONS))
def test_obligation_holds(name):
    kind, payload = OBLIGATIONS[name]
    assert holds(kind, payload), f"obligation {name} ({kind}) does not hold: {payload}"


# ------------------------------------------------------------ the checks can fail

def test_a_factorisation_through_fewer_states_fails():
    """An SSM with 3 modes does not factor through 2 states: the ssm_factorisation check fails."""
    lam, b, c = sp.symbols("lam0:3"), sp.symbols("b0:3"), sp.symbols("c0:3")
    L, split = 4, 2
    T = sp.Matrix(L, L, lambda t, s: sum(c[q] * lam[q] ** (t - s) * b[q] for q in range(3)) if t > s else 0)
    O = sp.Matrix(L - split, 2, lambda t, q: c[q] * lam[q] ** (t + 1))
    R = sp.Matrix(2, split, lambda q, s: lam[q] ** (split - 1 - s) * b[q])
    assert not holds("zero", sum((T[split:, :split] - O * R).applyfunc(lambda x: sp.expand(x) ** 2)))


def test_the_block_including_the_diagonal_has_a_non_zero_extra_column_for_fir():
    h = sp.symbols("h0:3")
    T = sp.Matrix(6, 6, lambda t, s: h[t - s] if 0 <= t - s < 3 else 0)
    split = 3
    wrong = T[split:, :split + 1]                     # includes column s = i
    assert not holds("zero", sum(wrong[:, :split + 1 - 3 + 1].applyfunc(lambda x: x**2)))


def test_wrong_tail_and_wrong_frequencies_fail():
    idx = sp.Symbol("idx", integer=True)
    assert not holds("zero", sp.summation(1, (idx, thm.n, thm.Lc)) - thm.Lc * thm.COPY_ERROR_BOUND.expr)  # off by one
    assert not holds("positive", thm.COPY_ERROR_BOUND.expr.subs(thm.n, thm.Lc))
    original = thm.roots_of_unity_frequencies
    try:
        thm.roots_of_unity_frequencies = lambda size, context: list(range(size))   # 0, 1: not closed under k -> -k
        parts = thm._lti_projection(5, 2)
    finally:
        thm.roots_of_unity_frequencies = original
    assert not holds("zero", parts["real"])


# ------------------------------------------------------------------------ theorems

def test_theorem_sources():
    assert thm.SOFTMAX_RANK_CAP.source.arxiv == "2504.19561"
    assert thm.EXACT_COPY_STATE.source.arxiv == "2410.03810"


def test_assumptions_are_checked():
    assert thm.COPY_ERROR_BOUND.check(L_c=4.0, n=5.0) == ["n <= L_c"]
    assert thm.FIR_RANK_CAP.check(k=1.0, i=2.0, L=8.0) == ["k >= 2"]


def test_notes_numbers():
    """The notes' bound at L_c = 16: 0.875 / 0.75 / 0.5 / 0 for n = 2 / 4 / 8 / 16."""
    np.testing.assert_array_equal(thm.COPY_ERROR_BOUND.evaluate(L_c=16, n=np.array([2, 4, 8, 16])),
                                  [0.875, 0.75, 0.5, 0.0])


def _at(op):
    i = np.arange(1, op.L, dtype=float)
    L = np.full_like(i, op.L)
    if op.family == "softmax_attention":
        return thm.SOFTMAX_RANK_CAP, {"i": i, "L": L}
    theorem, symbol = {"diagonal_ssm": (thm.SSM_RANK_CAP, "n"), "selective_ssm": (thm.SELECTIVE_SSM_RANK_CAP, "n"),
                       "fir": (thm.FIR_RANK_CAP, "k"), "linear_attention": (thm.LINEAR_ATTENTION_RANK_CAP, "d")}[op.family]
    return theorem, {"i": i, "L": L, symbol: np.full_like(i, op.size)}


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(2, 12), st.sampled_from(["ssm", "selective", "fir", "la", "softmax"]))
def test_library_caps_equal_the_theorems(L, size, family):
    size = min(size, L)
    op = {"ssm": lambda: memory.diagonal_ssm(L, size), "selective": lambda: memory.selective_ssm(L, size),
          "fir": lambda: memory.fir(L, size), "la": lambda: memory.linear_attention(L, size),
          "softmax": lambda: memory.softmax_attention(L)}[family]()
    theorem, at = _at(op)
    np.testing.assert_array_equal(op.cap(), theorem.evaluate(**at))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 24).flatmap(lambda c: st.tuples(st.just(c), st.integers(1, c))))
def test_constructions_are_on_the_bound_and_frequencies_agree(size):
    context, n = size
    assert list(roots_of_unity_frequencies(n, context)) == thm.roots_of_unity_frequencies(n, context)
    bound = float(thm.COPY_ERROR_BOUND.evaluate(L_c=context, n=n))
    for op in (memory.linear_attention(2 * context, n, construction="copy", context=context),
               memory.diagonal_ssm(2 * context, n, construction="copy", context=context)):
        assert abs(memory.copy_error(op, context) - bound) <= memory.copy_rounding_bound(op, context)
