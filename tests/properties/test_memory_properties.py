"""Hypothesis properties of theorytk.memory: for random operators of each family ESS <= cap and
entropy-ESS <= tolerance-ESS; the COPY error of any causal operator is at least (L_c - n)/L_c with
n its ESS at L_c; one extra SSM mode shows (the "<= n" test is not vacuous).

Tolerances: ESS values are integers, compared exactly. COPY errors are compared with the float64
rounding bound :func:`theorytk.memory.copy_rounding_bound`; entropy-ESS with gamma_{4r} r
(validations.memory_capacity.entropy_rounding). The extra-mode control uses complex poles with
|pole| in (0.9, 0.99) and L >= 4(n + 1), where the (n + 1)-th Hankel singular value stays far above
the rounding threshold (measured: the validation's equality claim for complex poles).
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs.memory_capacity import COPY_ERROR_BOUND
from theorytk import memory
from theorytk.testing.strategies import seeds
from validations.memory_capacity import entropy_rounding

FAMILIES = {
    "ssm_complex": lambda L, size, seed: memory.diagonal_ssm(L, size, seed),
    "ssm_real": lambda L, size, seed: memory.diagonal_ssm(L, size, seed, poles="real", radius=(0.3, 0.95)),
    "selective": lambda L, size, seed: memory.selective_ssm(L, size, seed),
    "fir": lambda L, size, seed: memory.fir(L, min(size + 1, L), seed),
    "linear_attention": lambda L, size, seed: memory.linear_attention(L, size, seed),
    "softmax": lambda L, size, seed: memory.softmax_attention(L, size, seed),
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(FAMILIES)), st.integers(2, 40), st.integers(1, 8), seeds())
def test_ess_stays_under_the_family_cap(family, L, size, seed):
    op = FAMILIES[family](L, size, seed)
    tol, ent = memory.ess(op), memory.ess(op, method="entropy")
    assert np.all(tol <= op.cap())
    assert np.all(ent <= tol + entropy_rounding(tol))
    assert np.all((ent >= 1.0 - 1e-12) | (tol == 0))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), seeds())
def test_one_extra_mode_shows(n, seed):
    L = 4 * (n + 1)
    op = memory.diagonal_ssm(L, n + 1, seed)
    assert memory.ess(op).max() == n + 1            # would fail a "<= n" claim for an SSM declared of state n


@st.composite
def low_rank_operators(draw):
    """A causal operator whose split-L_c block has rank <= n: random, with that block A B^T."""
    context = draw(st.integers(1, 12))
    L = 2 * context + draw(st.integers(0, 4))
    n = draw(st.integers(1, context))
    rng = np.random.default_rng(draw(seeds()))
    T = np.tril(rng.standard_normal((L, L)))
    T[context:, :context] = rng.standard_normal((L - context, n)) @ rng.standard_normal((n, context))
    return T, context, n


@settings(max_examples=60, deadline=None)
@given(low_rank_operators())
def test_copy_error_is_at_least_the_eckart_young_bound(case):
    T, context, n = case
    rank = memory.ess(T)[context - 1]
    assert rank <= n
    bound = float(COPY_ERROR_BOUND.evaluate(L_c=context, n=rank))
    assert memory.copy_error(T, context) >= bound - memory.copy_rounding_bound(T, context)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["ssm_complex", "linear_attention", "fir"]), st.integers(2, 12), st.integers(1, 8), seeds())
def test_copy_error_of_each_family_respects_its_cap(family, context, size, seed):
    op = FAMILIES[family](2 * context, size, seed)
    n = int(op.cap()[context - 1])
    bound = float(COPY_ERROR_BOUND.evaluate(L_c=context, n=n))
    assert memory.copy_error(op, context) >= bound - memory.copy_rounding_bound(op, context)
