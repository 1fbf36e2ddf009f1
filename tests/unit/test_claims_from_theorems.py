"""Claims built from theorems: bounds evaluated and exponents derived by sympy, the theorem recorded."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from proofs.poc_mfld import POC_UNIFORM_IN_TIME, PREDICTION_STATIONARY
from proofs.theorem import Source, Theorem
from theorytk import stats
from theorytk.claims import Agreement, Check, Rate, UpperBound
from theorytk.mutants import Discrimination, Mutant
from theorytk.claims import Verdicts
from theorytk.testing import assert_claim, assert_rejects

x, y = sp.symbols("x y", positive=True)


def _theorem(expr, symbols=(x,), constant_known=True):
    return Theorem("t", "f(x) <= expr", expr, symbols, Source("A, B, arXiv 1234.56789", "Thm 1", "paper"),
                   constant_known=constant_known)


@pytest.mark.parametrize("expr, limit, power", [
    (3 / x, "oo", -1), (x**2 + x, "oo", 2), (x**2 + x, "0", 1), (sp.sqrt(x) * sp.log(x), "oo", sp.Rational(1, 2)),
    (sp.exp(-x) + 1 / x, "oo", -1), (y / x**sp.Rational(3, 2), "oo", -sp.Rational(3, 2)),
])
def test_exponent_is_the_leading_power(expr, limit, power):
    assert _theorem(expr, (x, y)).exponent("x", limit) == power


@given(p=st.fractions(-4, 4, max_denominator=6), c=st.floats(0.1, 10))
def test_exponent_of_any_power_law(p, c):
    assert _theorem(c * x ** sp.Rational(p.numerator, p.denominator)).exponent("x") == sp.Rational(p.numerator,
                                                                                                  p.denominator)


def test_exponent_refuses_non_power_laws_and_unknown_symbols():
    with pytest.raises(ValueError, match="no power-law"):
        _theorem(sp.exp(x)).exponent("x")
    with pytest.raises(ValueError, match="symbol must be one of"):
        _theorem(1 / x).exponent("N")
    with pytest.raises(ValueError, match="limit must be one of"):
        _theorem(1 / x).exponent("x", "inf")


def test_source_finds_the_arxiv_id_and_the_record_has_the_protocol_keys():
    record = _theorem(1 / x).to_dict()
    assert record["arxiv"] == "1234.56789" and record["latex"] == r"\frac{1}{x}"
    assert {"name", "statement", "latex", "reference", "where", "confidence", "constant_known"} <= set(record)


def test_upper_bound_of_evaluates_the_theorem_and_records_it():
    ns = np.array([8.0, 16.0, 32.0])
    claim = UpperBound.of(PREDICTION_STATIONARY, empirical=0.5 / ns, se=0.01 / ns, at={"N": ns, "Vbar": 0.9})
    assert claim.holds
    np.testing.assert_allclose(claim.bound, 0.9 / ns)
    record = claim.to_dict()["theorem"]
    assert record["name"] == "prediction_stationary" and record["confidence"] == "derived here"
    assert record["at"]["N"] == [8.0, 16.0, 32.0]
    assert "theorem prediction_stationary" in claim.sentence
    assert not UpperBound.of(PREDICTION_STATIONARY, empirical=1.0 / ns, se=0.0, at={"N": ns, "Vbar": 0.9}).holds


def test_rate_of_derives_the_expected_exponent():
    n = np.array([8.0, 16, 32, 64])
    fit = stats.bootstrap_slope(n, 1.0 / n * (1 + 0.01 * np.random.default_rng(0).standard_normal((20, 4))), seed=0)
    claim = Rate.of(PREDICTION_STATIONARY, "N", fit, tolerance=0.1)
    assert claim.expected == -1.0 and claim.holds
    assert claim.to_dict()["theorem"]["exponent"] == -1.0
    # a rate needs no constant: the unconfirmed-constant theorem backs it, but bounds nothing
    assert Rate.of(_theorem(x ** -1, constant_known=False), "x", fit, tolerance=0.1).holds
    with pytest.raises(ValueError, match="constant_known=False"):
        UpperBound.of(POC_UNIFORM_IN_TIME, 1.0, 0.1, at=dict(alpha=1, lam=1, t=1, Delta0=1, C=1, N=1))
    with pytest.raises(ValueError, match="depends on other"):
        Rate.of(_theorem(x**y, (x, y)), "x", fit, tolerance=0.1)


def test_agreement_of_compares_with_the_exact_value():
    claim = Agreement.of(_theorem(2 * x), a=[2.01, 4.0], se_a=[0.01, 0.01], at={"x": [1.0, 2.0]})
    assert claim.holds and claim.to_dict()["theorem"]["at"]["x"] == [1.0, 2.0]


def test_bad_theorems_and_labels_are_refused():
    with pytest.raises(TypeError, match="theorem protocol"):
        UpperBound("E", 1.0, 0.1, 2.0, theorem=object())
    with pytest.raises(TypeError, match="sanity must be"):
        Check("c", True, {}, "ok.", sanity="")
    claim = Check("c", True, {}, "ok.", sanity="a residual, not a theorem")
    assert claim.is_sanity_check and claim.sentence.endswith("[sanity check: a residual, not a theorem]")


def test_discrimination_matrix_counts_rejections():
    truth = Verdicts([UpperBound("a", 0.5, 0.1, 1.0), Agreement("b", 1.0, 0.1, 1.0),
                      Check("c", True, {}, "ok.", sanity="wiring")])
    wrong = Verdicts([UpperBound("a", 2.0, 0.1, 1.0), Agreement("b", 1.0, 0.1, 1.0)])
    same = Verdicts([UpperBound("a", 0.5, 0.1, 1.0), Agreement("b", 1.0, 0.1, 1.0)])
    mutants = (Mutant("hot", "twice the temperature"), Mutant("same", "changes nothing"))
    d = Discrimination.of(truth, {"hot": wrong, "same": same}, mutants)
    assert d.matrix["a"] == {"hot": "rejects", "same": "accepts"} and d.matrix["c"]["hot"] == "absent"
    assert d.unrejected_mutants == ["same"] and d.idle_claims == ["b"] and not d.all_rejected
    record = d.to_dict()
    assert record["n_rejected"] == 1 and record["n_sanity_checks"] == 1
    with pytest.raises(ValueError, match="undeclared"):
        Discrimination.of(truth, {"cold": wrong}, mutants)
    with pytest.raises(ValueError, match="identifier"):
        Mutant("not an id", "x")


def test_assert_claim_and_assert_rejects():
    good, bad = UpperBound("E", 0.5, 0.1, 1.0), UpperBound("E", 2.0, 0.1, 1.0)
    assert assert_claim(good) is good and assert_rejects(bad) is bad
    with pytest.raises(AssertionError, match="exceeds the bound"):
        assert_claim(bad)
    with pytest.raises(AssertionError, match="cannot tell it apart"):
        assert_rejects(good)
