"""Symbolic obligations of proofs.icl_cot.

* Every entry of ``obligations()`` holds: ``zero`` -> ``sympy.simplify(expr) == 0``,
  ``positive`` -> ``expr.is_positive is True``.
* The checks can fail: a wrong fourth Wishart moment fails its chi-square and symmetry
  checks, a wrong floor fails ``floor_value``.
* Every theorem has a source with a known confidence and evaluates to the numbers in the
  notes (e.g. the floor 3.5484 at (d, n) = (10, 20); E_1 = 2, E_2 = 1.2625 at (5, 10, 0.5)).
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
