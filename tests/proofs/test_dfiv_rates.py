"""Symbolic obligations of proofs.dfiv_rates and the d = 1 exponent table of the notes."""
import numpy as np
import pytest
import sympy as sp

from proofs import dfiv_rates as thm
from proofs.theorem import Theorem


def _holds(kind, expr):
    if kind == "zero":
        return sp.simplify(expr) == 0
    if kind == "positive":
        return bool(sp.simplify(expr).is_positive)
    return bool(sp.simplify(expr).is_nonnegative)


@pytest.mark.parametrize("name", sorted(thm.obligations()))
def test_obligation(name):
    kind, expr = thm.obligations()[name]
    assert _holds(kind, expr), (name, kind, expr)


def test_worked_table_matches_the_notes():
    # dfiv.md Sec. 3, "Worked exponents for d = 1" (independently derived there)
    expected = {("jump", 0): ("2/3", "1/2"), ("jump", 1): ("2/5", "1/4"), ("jump", 2): ("2/7", "1/6"),
                ("kink", 1): ("4/7", "1/2"), ("kink", 2): ("4/9", "3/8")}
    table = thm.worked_exponents()
    for key, (adaptive, linear) in expected.items():
        assert table[key] == (sp.Rational(adaptive), sp.Rational(linear)), key


def test_theorems_are_data_with_sources():
    theorems = [v for v in vars(thm).values() if isinstance(v, Theorem)]
    assert len(theorems) == 5
    derived = [t for t in theorems if t.source.confidence == "derived here"]
    assert derived == [thm.SIEVE_PROXY_RISK] and derived[0].source.reference == "derived here"
    for t in theorems:
        if t not in derived:
            assert t.source.reference.startswith("Kim, Meunier, Gretton, Suzuki, Li")
        assert t.source.note


def test_sieve_proxy_exponents_for_the_circle_targets():
    # jump |c_k| ~ 1/k (s' = 1/2), kink ~ 1/k^2 (s' = 3/2): the proxy's risk exponent at r = 1 is the
    # fixed-feature exponent of the notes' table (1/4 and 1/2)
    _, risk = thm.sieve_proxy_optimum()
    for target, expected in (("jump", sp.Rational(1, 4)), ("kink", sp.Rational(1, 2))):
        smooth, integ, decay = thm.CIRCLE_TARGETS[target]
        s_prime = thm.coefficient_smoothness(decay)
        exponent = sp.simplify(-thm.n * sp.diff(risk, thm.n) / risk).subs({thm.s_lin: s_prime, thm.r: 1})
        assert exponent == expected == thm.LINEAR_L2_RISK.expr.subs({thm.s: smooth, thm.p: integ, thm.d: 1, thm.r: 1})


def test_sieve_proxy_evaluates_its_formula():
    j, n, s_prime, r, c, sigma = 3.0, 1000.0, 0.5, 1.0, 0.05, 0.5
    expected = c * j ** (-2 * s_prime) / s_prime + 2 * sigma**2 * j ** (2 * r + 1) / ((2 * r + 1) * n)
    value = thm.SIEVE_PROXY_RISK.evaluate(J=j, n=n, s_prime=s_prime, r=r, C=c, sigma=sigma)
    assert value == pytest.approx(expected, rel=1e-12)


def test_evaluate_and_assumptions():
    e = thm.L2_RISK.evaluate(s=np.array([1.0, 2.0]), r=1.0, d=1.0)
    np.testing.assert_allclose(e, [2 / 5, 4 / 7])
    assert thm.LINEAR_L2_RISK.check(s=0.5, r=1.0, d=1.0, p=1.0) == ["s > d/p"]
    assert thm.LINEAR_L2_RISK.check(s=1.5, r=1.0, d=1.0, p=1.0) == []
    assert thm.LINEAR_L2_RISK.evaluate(s=2.0, r=0.0 + 1e-300, d=1.0, p=3.0) == pytest.approx(thm.L2_RISK.evaluate(s=2.0, r=1e-300, d=1.0))
