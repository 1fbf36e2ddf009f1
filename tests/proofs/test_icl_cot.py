"""Symbolic obligations of proofs.icl_cot.

* Every entry of ``obligations()`` holds: ``zero`` -> ``sympy.simplify(expr) == 0``,
  ``positive`` -> ``expr.is_positive is True``.
* The checks can fail: a wrong fourth Wishart moment fails its chi-square and symmetry
  checks, a wrong floor fails ``floor_value``.
* Every theorem has a source with a known confidence and evaluates to the numbers in the
  notes (e.g. the floor 3.5484 at (d, n) = (10, 20); E_1 = 2, E_2 = 1.2625 at (5, 10, 0.5);
  the looped step gamma_2 = 0.628 at (10, 20) with error 2.11 (notes: Monte Carlo), 0.854 at (10, 40)).
"""
import numpy as np
import pytest

from proofs import icl_cot
from proofs.theorem import CONFIDENCE
from tests.proofs._obligations import holds

OBLIGATIONS = icl_cot.obligations()


@pytest.mark.parametrize("name", sorted(OBLIGATIONS))
def test_obligation_holds(name):
    kind, payload = OBLIGATIONS[name]
    assert holds(kind, payload), f"{name}: {payload}"


def test_obligations_are_present():
    assert len(OBLIGATIONS) >= 25
    for m in range(1, 5):
        assert f"wishart_m{m}_d1_chi_square" in OBLIGATIONS


def test_wrong_moment_and_wrong_floor_fail():
    d, n = icl_cot.d, icl_cot.n
    wrong = icl_cot.WISHART_MOMENTS[4] + n * d  # a planted error of the fourth moment
    assert not holds("zero", wrong.subs(d, 1) - icl_cot._chi_square_moment(n, 4))
    a = icl_cot.a
    floor_error = d + 2 * a * d + a**2 * d * (n + d + 1) / n
    assert not holds("zero", floor_error.subs(a, -n / (n + d + 1)) - d * (d + 1) / (n + d))


def test_sources_and_numbers():
    for theorem in icl_cot.THEOREMS:
        assert theorem.source.confidence in CONFIDENCE
        assert theorem.source.reference
    assert float(icl_cot.NO_COT_FLOOR.evaluate(d=10, n=20)) == pytest.approx(3.548387, rel=1e-6)
    assert float(icl_cot.NO_COT_FLOOR.evaluate(d=3, n=6)) == pytest.approx(1.2, rel=1e-12)
    assert float(icl_cot.COT_ERROR[1].evaluate(d=5, n=10, eta=0.5)) == pytest.approx(2.0, rel=1e-12)
    assert float(icl_cot.COT_ERROR[2].evaluate(d=5, n=10, eta=0.5)) == pytest.approx(1.2625, rel=1e-12)
    assert float(icl_cot.PLATEAU.evaluate(d=8, n=5)) == 3.0
    assert icl_cot.PLATEAU.check(d=5, n=8)
    for kap, expected in ((10, 7), (100, 11), (1000, 14)):
        rho = (kap - 1) / (kap + 1)
        assert int(icl_cot.NS_ITERATIONS.evaluate(eps=1e-10, rho=rho)) == expected
    assert float(icl_cot.NS_RESIDUAL.evaluate(rho=0.5, k=3)) == 0.5**8
    assert np.isclose(float(icl_cot.edge_step(10, 40)), 0.4444444444)


def test_looped_step_and_its_error_match_the_notes():
    gamma2 = icl_cot.looped_step(2, 10, 20)
    assert gamma2 == pytest.approx(0.628, abs=5e-4)
    assert float(icl_cot.COT_ERROR[2].evaluate(d=10, n=20, eta=gamma2)) == pytest.approx(2.111, rel=5e-3)  # notes: MC
    assert float(icl_cot.COT_ERROR[2].evaluate(d=10, n=40, eta=icl_cot.looped_step(2, 10, 40))) == pytest.approx(
        0.854, abs=5e-4)
    assert icl_cot.looped_step(1, 10, 20) == pytest.approx(20 / 31, rel=1e-12)
    with pytest.raises(ValueError, match="loops must be one of"):
        icl_cot.looped_step(3, 10, 20)


def test_polynomial_optimum_beats_the_equal_step_and_its_construction_coefficients():
    for d_, n_ in ((3, 12), (10, 20), (4, 16)):
        poly = float(icl_cot.LOOPED_POLYNOMIAL_K2.evaluate(d=d_, n=n_))
        equal = float(icl_cot.COT_ERROR[2].evaluate(d=d_, n=n_, eta=icl_cot.looped_step(2, d_, n_)))
        assert 0 < poly < equal
        alpha, beta = icl_cot.looped_polynomial_coefficients(d_, n_)
        m = [float(w.subs({icl_cot.d: d_, icl_cot.n: n_})) / n_**j for j, w in enumerate(icl_cot.WISHART_MOMENTS)]
        value = (d_ - 2 * alpha * m[1] - 2 * beta * m[2] + alpha**2 * m[2] + 2 * alpha * beta * m[3]
                 + beta**2 * m[4])                     # E tr (I - alpha S - beta S^2)^2 at the coefficients
        assert value == pytest.approx(poly, rel=1e-10)


def test_gap_exponents_and_general_covariance_reductions():
    assert icl_cot.COT_MP_GAP[1].exponent("n") == -1
    assert icl_cot.COT_MP_GAP[2].exponent("n") == -1
    assert float(icl_cot.COT_MP_GAP[2].evaluate(n=64, ratio=0.25, eta=0.64)) > 0
    assert float(icl_cot.NO_COT_FLOOR_GENERAL.evaluate(d1=2, d2=3, s1=1, s2=1, n=20)) == pytest.approx(30 / 26)
    # the floor is the minimum over v of the general error
    floor = float(icl_cot.NO_COT_FLOOR_GENERAL.evaluate(d1=2, d2=1, s1=0.5, s2=2.0, n=6))
    errors = icl_cot.NO_COT_ERROR_GENERAL.evaluate(d1=2, d2=1, s1=0.5, s2=2.0, n=6, v=np.linspace(0.05, 1.5, 200))
    assert floor < errors.min()
