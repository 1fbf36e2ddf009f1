"""Symbolic obligations of proofs.contrastive_etf, and its theorems against theorytk.contrastive.

* Every entry of ``obligations()`` holds: ``zero`` -> ``sympy.simplify(expr) == 0`` (plus a
  numeric spot check at random admissible values), ``positive`` -> ``expr.is_positive``.
* The checks can fail: the one-sided loss, a multiplier without the factor 2 and the wrong
  batch-pair fraction fail the same checks.
* Formula twins: each closed form of ``theorytk.contrastive`` equals its theorem for random
  admissible (N, B, tau) (hypothesis), and the ETF multiplier equals the kernel's gradient.
"""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs import contrastive_etf as thm
from theorytk import contrastive
from theorytk.contrastive import _kernels
from tests.proofs._obligations import holds


OBLIGATIONS = thm.obligations()


def _numeric(expr, seed):
    """``expr`` at random admissible values: 2 <= B <= N integers, tau in [0.3, 3]."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12))
    values = {thm.N: n, thm.B: int(rng.integers(2, n + 1)), thm.tau: sp.Float(rng.uniform(0.3, 3.0), 30)}
    return complex(sp.N(expr.subs(values), 30))


def test_obligations_are_present():
    assert len(OBLIGATIONS) >= 20
    for name in ("etf_term", "softmax_diagonal", "pair_fraction", "etf_centred", "multiplier",
                 "partition_exponent_gap_positive", "antipode_probability", "explicit_tangent_u_N4_B2",
                 "explicit_multiplier_N4_B3", "explicit_loss_N4_B4"):
        assert name in OBLIGATIONS


@pytest.mark.parametrize("name", sorted(OBLIGATIONS))
def test_obligation_holds(name):
    kind, payload = OBLIGATIONS[name]
    assert holds(kind, payload), f"obligation {name} ({kind}) does not hold: {payload}"
    if kind == "zero" and payload.free_symbols <= {thm.N, thm.B, thm.tau}:
        for seed in range(3):
            assert abs(_numeric(payload, seed)) < 1e-20, f"{name} is not zero numerically"


# ------------------------------------------------------------ the checks can fail

def test_wrong_variants_fail():
    N, B, tau = thm.N, thm.B, thm.tau
    one_sided = sp.log(1 + (B - 1) * sp.exp(-N / ((N - 1) * tau)))              # without the symmetric term
    assert not holds("zero", sp.exp(one_sided) - sp.exp(thm.ETF_MINIBATCH_LOSS.expr / 2) ** 2)
    assert not holds("zero", sp.gammasimp(sp.binomial(N - 2, B - 2) / sp.binomial(N, B)) - B / N)
    p_o = 1 / (sp.exp(N / ((N - 1) * tau)) + B - 1)
    assert not holds("zero", -p_o * (B - 1) / ((N - 1) * tau) - thm.ETF_MULTIPLIER.expr)  # factor 2 lost
    assert not holds("positive", -((N - B) / ((B - 1) * (N - 1))).subs(N, B + sp.Symbol("k", positive=True)))


def test_wrong_multiplier_fails_the_explicit_gradient():
    explicit = thm._explicit_checks(4, 2)["explicit_multiplier_N4_B2"]
    lam = thm.ETF_MULTIPLIER.expr.subs({thm.N: 4, thm.B: 2})
    assert not holds("zero", explicit + lam - lam / 2)


# ------------------------------------------------------------------------ theorems

def test_theorem_sources():
    for t in thm.THEOREMS:
        if t.source.confidence == "unconfirmed":
            assert t.source.note
    assert thm.ETF_MINIBATCH_LOSS.source.arxiv == "2307.05906"


def test_assumptions_are_checked():
    assert thm.ETF_MINIBATCH_LOSS.check(N=4.0, B=6.0, tau=1.0) == ["B <= N"]
    assert thm.PARTITION_GAP.check(N=4.0, B=4.0, tau=1.0) == ["B < N"]


def test_notes_numbers():
    """The notes' prototype values (N = 8, tau = 1): full 2.34642, B = 2: 0.55361, B = 4 partition 1.16532."""
    assert thm.ETF_MINIBATCH_LOSS.evaluate(N=8, B=8, tau=1.0) == pytest.approx(2.34642, abs=5e-6)
    assert thm.ETF_MINIBATCH_LOSS.evaluate(N=8, B=2, tau=1.0) == pytest.approx(0.55361, abs=5e-6)
    assert thm.PARTITION_BATCH_MIN.evaluate(B=4, tau=1.0) == pytest.approx(1.16532, abs=5e-6)
    assert thm.CROSS_POLYTOPE_LOSS.evaluate(N=8, B=8, tau=1.0) == pytest.approx(2.41351, abs=5e-6)


sizes = st.integers(3, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(2, n)))
taus = st.floats(0.2, 5.0)


@settings(max_examples=40, deadline=None)
@given(sizes, taus)
def test_closed_form_twins(size, tau):
    N, B = size
    assert contrastive.etf_loss(N, B, tau) == pytest.approx(float(thm.ETF_MINIBATCH_LOSS.evaluate(N=N, B=B, tau=tau)),
                                                            rel=1e-13)
    assert contrastive.partition_batch_loss(B, tau) == pytest.approx(
        float(thm.PARTITION_BATCH_MIN.evaluate(B=B, tau=tau)), rel=1e-13)
    if N % 2 == 0:
        assert contrastive.cross_polytope_loss(N, B, tau) == pytest.approx(
            float(thm.CROSS_POLYTOPE_LOSS.evaluate(N=N, B=B, tau=tau)), rel=1e-13)


@settings(max_examples=20, deadline=None)
@given(st.integers(3, 8).flatmap(lambda n: st.tuples(st.just(n), st.integers(2, n))), taus)
def test_etf_multiplier_equals_the_kernel_gradient(size, tau):
    N, B = size
    E = contrastive.simplex_etf(N, N)
    _, gU, gV = _kernels.loss_and_gradient(E, E, contrastive.all_batches(N, B), tau, True)
    lam = float(thm.ETF_MULTIPLIER.evaluate(N=N, B=B, tau=tau))
    scale = abs(lam)
    np.testing.assert_allclose(gU, lam * E, atol=1e-13 * max(scale, 1e-300) + 1e-15)
    np.testing.assert_allclose(gV, lam * E, atol=1e-13 * max(scale, 1e-300) + 1e-15)
