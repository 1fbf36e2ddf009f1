"""Symbolic obligations of proofs.poc_mfld and the Theorem machinery of proofs.theorem.

* Every entry of ``obligations()`` holds: ``zero`` -> ``sympy.simplify(expr) == 0`` (and a
  numeric spot check at random admissible values, in case simplify were wrong),
  ``nonnegative`` -> ``expr.is_nonnegative is True``, ``limit`` -> the limit as N -> oo
  equals the stated value.
* The checks can fail: deliberately wrong variants (the Gaussian gap with lam/N instead of
  lam/(2N), the Euler-Maruyama variance with noise 2 sqrt(lam eta) instead of
  sqrt(2 lam eta), log(1+u) >= u, a wrong rate) fail the same checks.
* Every Theorem has a source with a known confidence, evaluates on NumPy arrays (equal to
  sympy's own value), and ``check`` names a violated assumption.
"""
import zlib

import numpy as np
import pytest
import sympy as sp

from proofs import poc_mfld
from proofs.theorem import CONFIDENCE, Source, Theorem

OBLIGATIONS = poc_mfld.obligations()
KINDS = ("zero", "nonnegative", "limit")


def holds(kind, payload):
    """The check of ``tests/proofs`` for one obligation."""
    if kind == "zero":
        return sp.simplify(payload) == 0
    if kind == "nonnegative":
        return payload.is_nonnegative is True
    if kind == "limit":
        expr, value = payload
        return sp.simplify(sp.limit(expr, poc_mfld.N, sp.oo) - value) == 0
    raise AssertionError(f"unknown obligation kind {kind!r}")


def _numeric(expr, seed):
    """``expr`` at random values in [0.1, 0.9] (N, M: small integers) of its free symbols."""
    rng = np.random.default_rng(seed)
    values = {}
    for s in expr.free_symbols:
        values[s] = int(rng.integers(2, 9)) if s.is_integer else sp.Float(rng.uniform(0.1, 0.9), 30)
    return complex(sp.N(expr.subs(values), 30))


def test_obligations_are_present():
    assert len(OBLIGATIONS) >= 15
    for name in ("bregman_squared_loss", "em_stationary_variance", "gauss_pred_le_2gap", "gauss_gap_explicit_N2",
                 "gauss_gap_explicit_N3", "gauss_gap_explicit_N4", "ensemble_split_M2", "gap_rate"):
        assert name in OBLIGATIONS
    assert {kind for kind, _ in OBLIGATIONS.values()} <= set(KINDS)


@pytest.mark.parametrize("name", sorted(OBLIGATIONS))
def test_obligation_holds(name):
    kind, payload = OBLIGATIONS[name]
    assert kind in KINDS
    assert holds(kind, payload), f"obligation {name} ({kind}) does not hold: {payload}"
    if kind == "zero":
        for seed in range(3):
            assert abs(_numeric(payload, seed)) < 1e-20, f"{name} is not zero numerically"


# ------------------------------------------------------------ the checks can fail

@pytest.mark.parametrize("n_particles", [2, 3, 4])
def test_wrong_gaussian_gap_fails_explicit_integral(n_particles):
    lam, lamp, a, N = poc_mfld.lam, poc_mfld.lamp, poc_mfld.a, poc_mfld.N
    wrong = lam / N * sp.log(1 + a / (2 * lamp))  # lam/N instead of lam/(2N)
    explicit = poc_mfld._gaussian_gap_explicit(n_particles)
    assert not holds("zero", explicit - wrong.subs(N, n_particles))
    assert holds("zero", explicit - poc_mfld.GAUSS_GAP.expr.subs(N, n_particles))  # the right one passes


def test_wrong_noise_scale_fails_em_variance():
    lam, eta, N = poc_mfld.lam, poc_mfld.eta, poc_mfld.N
    m = sp.Symbol("m", real=True)
    c = sp.Symbol("c", positive=True)
    for noise_var, ok in [(2 * lam * eta / N, True), ((2 * sp.sqrt(lam * eta)) ** 2 / N, False)]:
        variance = sp.solve(sp.Eq(c, (1 - eta * m) ** 2 * c + noise_var), c)[0]
        assert holds("zero", variance - lam / (N * m * (1 - eta * m / 2))) is ok


def test_wrong_inequality_and_rate_fail():
    u, N = poc_mfld.u, poc_mfld.N
    # log(1 + u) >= u is false: its derivative -u/(1+u) is not nonnegative
    assert not holds("nonnegative", sp.simplify(sp.diff(sp.log(1 + u) - u, u)))
    # a 1/sqrt(N) bound does not have the 1/N rate
    assert not holds("limit", (N * poc_mfld.Vbar / sp.sqrt(N), poc_mfld.Vbar))
    # the ensemble split without the 1/M on the variance
    mu, cc, v = sp.symbols("mu c v", real=True)
    e0, e1 = sp.symbols("e0 e1", real=True)
    second = sp.expand(((mu + e0 + mu + e1) / 2 - cc) ** 2)
    expectation = second.subs({e0 * e1: 0}).subs({e0**2: v, e1**2: v}).subs({e0: 0, e1: 0})
    assert not holds("zero", expectation - ((mu - cc) ** 2 + v))
    assert holds("zero", expectation - ((mu - cc) ** 2 + v / 2))


# ------------------------------------------------------------------------ theorems

def _module_theorems():
    return [value for value in vars(poc_mfld).values() if isinstance(value, Theorem)]


def test_every_theorem_is_listed_and_sourced():
    listed = poc_mfld.THEOREMS
    assert {id(t) for t in _module_theorems()} == {id(t) for t in listed}
    assert len({t.name for t in listed}) == len(listed)
    for t in listed:
        assert isinstance(t.source, Source)
        assert t.source.confidence in CONFIDENCE
        assert t.source.reference and t.source.where and t.statement
        assert t.expr.free_symbols <= set(t.symbols), f"{t.name}: expr uses symbols it does not take"
        assert all(s.is_positive for s in t.symbols)
        if t.source.confidence == "unconfirmed":
            assert not t.constant_known or t.source.note, f"{t.name}: unconfirmed constant must be flagged"
    assert not poc_mfld.POC_UNIFORM_IN_TIME.constant_known


def _admissible(theorem, shape=(3,)):
    """Arrays of admissible parameter values: eta small enough for the EM assumption."""
    rng = np.random.default_rng(zlib.crc32(theorem.name.encode()))
    params = {}
    for s in theorem.symbols:
        if s.is_integer:
            params[s.name] = rng.integers(1, 50, size=shape).astype(float)
        elif s.name == "eta":
            params[s.name] = rng.uniform(0.001, 0.05, size=shape)
        else:
            params[s.name] = rng.uniform(0.05, 2.0, size=shape)
    return params


@pytest.mark.parametrize("theorem", poc_mfld.THEOREMS, ids=lambda t: t.name)
def test_evaluate_with_numpy_arrays(theorem):
    params = _admissible(theorem)
    assert theorem.check(**params) == []
    values = theorem.evaluate(**params)
    assert isinstance(values, np.ndarray) and values.shape == (3,) and np.all(np.isfinite(values))
    for k in range(3):
        point = {s: sp.Float(params[s.name][k], 30) for s in theorem.symbols}
        np.testing.assert_allclose(values[k], float(theorem.expr.subs(point)), rtol=1e-12)
    # broadcasting: one parameter as a column gives a 2-D table
    first = theorem.symbols[0].name
    table = theorem.evaluate(**{**params, first: params[first][:, None]})
    assert table.shape == ((3, 3) if len(theorem.symbols) > 1 else (3, 1))
    np.testing.assert_allclose(np.diagonal(table) if table.shape == (3, 3) else table[:, 0], values, rtol=1e-14)
    np.testing.assert_allclose(theorem.require(**params), values, rtol=1e-14)


def test_check_reports_violated_assumption():
    t = poc_mfld.GAUSS_PREDICTION_EM
    good = dict(lam=0.1, lam_l2=0.5, a=1.0, N=4, eta=0.1)
    assert t.check(**good) == []
    bad = dict(good, eta=1.5)  # eta (a + 2 lam_l2) = 3 > 2: no stationary law
    failing = t.check(**bad)
    assert len(failing) == 1 and "eta" in failing[0] and "< 2" in failing[0]
    with pytest.raises(ValueError, match="eta"):
        t.require(**bad)
    # an array in which one entry violates the assumption is reported too
    assert t.check(**dict(good, eta=np.array([0.1, 1.5]))) != []
    # positivity of the symbols is an assumption as well
    assert t.check(**dict(good, lam=-0.1)) == ["lam > 0"]
    assert t.check(**dict(good, N=0)) == ["N > 0"]


def test_arguments_are_checked():
    t = poc_mfld.GAP_STATIONARY
    with pytest.raises(TypeError, match="missing"):
        t.evaluate(L=1.0, Vbar=0.5)
    with pytest.raises(TypeError, match="unexpected"):
        t.evaluate(L=1.0, Vbar=0.5, N=4, R=1.0)
    with pytest.raises(ValueError, match="confidence"):
        Source("somewhere", "Thm 1", "probably")


def test_bound_values_match_notes():
    # the numbers the validation rests on, evaluated through the Theorem objects
    assert poc_mfld.PREDICTION_STATIONARY.evaluate(Vbar=0.5, N=10) == pytest.approx(0.05)
    assert poc_mfld.GAP_STATIONARY_R.evaluate(L=0.25, R=1.0, N=8) == pytest.approx(1 / 64)
    u = 0.7
    gap = poc_mfld.GAUSS_GAP.evaluate(lam=1.0, lam_l2=0.5, a=u, N=1)
    assert gap == pytest.approx(0.5 * np.log1p(u))
    assert poc_mfld.GAUSS_GAP_BOUND.evaluate(lam=1.0, lam_l2=0.5, a=u, N=1) == pytest.approx(0.5 * u)
