"""Data generators of theorytk.dfiv: seeded, validated, and their truth is right."""
import numpy as np
import pytest

from proofs import dfiv_rates as thm
from theorytk.dfiv import SieveIV
from theorytk.dfiv.data import (CIRCLE_TARGETS, RISK_GRID, circle_iv, circle_structural, demand_design,
                                demand_design_hartford, demand_structural, zoo)

K_SIGMA = 4.0  # margin of every statistical check below, in standard errors


def test_same_seed_same_data_and_different_seed_differs():
    a, b, c = (circle_iv(300, "jump", seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.stage1.y, b.stage1.y)
    assert not np.array_equal(a.stage1.y, c.stage1.y)
    np.testing.assert_array_equal(demand_design(200, seed=3).stage2.x, demand_design(200, seed=3).stage2.x)


@pytest.mark.parametrize("target", CIRCLE_TARGETS)
def test_exact_risks_of_the_truth_and_of_zero(target):
    data = circle_iv(100, target, seed=0)
    assert data.l2_risk(lambda x: circle_structural(target, x[:, 0])) < 1e-4  # jump: midpoint-sampling aliasing only
    coeffs = data.coefficients(np.arange(-3000, 3001))
    # risk of the zero predictor = ||h||^2 (Parseval with the exact tail) and the projected one sums mu_k^2 |c_k|^2
    assert data.l2_risk(lambda x: 0 * x[:, 0]) == pytest.approx(np.sum(np.abs(coeffs) ** 2), rel=1e-3)
    mu = data.multiplier(np.arange(-3000, 3001))
    assert data.projected_risk(lambda x: 0 * x[:, 0]) == pytest.approx(np.sum(mu**2 * np.abs(coeffs) ** 2), rel=1e-6)


@pytest.mark.parametrize("target", CIRCLE_TARGETS)
def test_coefficients_agree_with_fft_of_the_function(target):
    grid = 2**16
    x = np.arange(grid) / grid
    fft = np.fft.fft(circle_structural(target, x)) / grid
    k = np.arange(-5, 6)
    # the jump's samples alias at O(1/grid)
    np.testing.assert_allclose(circle_iv(10, target, seed=0).coefficients(k), fft[k], atol=5e-5)


def test_operator_is_the_fourier_multiplier():
    """E[Y - (Th)(Z) | Z] = 0: the residual is uncorrelated with cos/sin(2 pi k Z), within K_SIGMA SE."""
    data = circle_iv(200_000, "smooth", alpha=1.0, rho=0.5, stage1_size=100_000, seed=7)
    z, y = data.stage1.z[:, 0], data.stage1.y
    k = np.arange(-3, 4)
    th = np.real(np.exp(2j * np.pi * np.outer(z, k)) @ (data.multiplier(k) * data.coefficients(k)))
    for j in (1, 2):
        for f in (np.cos, np.sin):
            prod = (y - th) * f(2 * np.pi * j * z)
            assert abs(prod.mean()) <= K_SIGMA * prod.std() / np.sqrt(prod.size)
    # and the noise is correlated with X through W = (X - Z) wrapped to [-1/2, 1/2): endogeneity is real
    w = np.mod(data.stage1.x[:, 0] - z + 0.5, 1.0) - 0.5
    prod = (y - circle_structural("smooth", data.stage1.x[:, 0])) * w
    assert abs(prod.mean()) > K_SIGMA * prod.std() / np.sqrt(prod.size)


def test_control_has_x_equal_z():
    data = circle_iv(200, "kink", control=True, seed=1)
    np.testing.assert_array_equal(data.stage1.x, data.stage1.z)
    assert data.params["r"] == 0.0 and data.projected_risk(lambda x: 0 * x[:, 0]) == pytest.approx(1 / 3, rel=1e-6)


def test_demand_design_equations():
    data = demand_design(1000, rho=0.5, seed=0)
    p, t, s = data.stage1.x.T
    c = data.stage1.z[:, 0]
    psi = 2 * ((t - 5) ** 4 / 600 + np.exp(-4 * (t - 5) ** 2) + t / 10 - 2)
    v = p - 25 - (c + 3) * psi
    e = data.stage1.y - (100 + (10 + p) * s * psi - 2 * p)
    se = np.sqrt((1 + 0.25) / v.size)
    assert abs(np.corrcoef(v, e)[0, 1] - 0.5) < K_SIGMA * se
    assert set(np.unique(s)) == set(range(1, 8)) and data.test_x.shape == (2800, 3)
    np.testing.assert_allclose(data.test_f, demand_structural(data.test_x))


def test_hartford_and_zoo_shapes():
    h = demand_design_hartford(500, seed=0)
    assert h.stage1.x.shape == (250, 9) and np.all(h.stage1.x[:, 2:].sum(axis=1) == 1)
    z = zoo("step", 600, seed=0)
    assert z.stage1.z.shape == (300, 2) and abs(z.stage1.y.mean()) < 1e-12


@pytest.mark.parametrize("call, error", [
    (lambda: circle_iv(100, "wiggle", seed=0), ValueError),
    (lambda: circle_iv(3, "jump", seed=0), ValueError),
    (lambda: circle_iv(100, "jump", alpha=-1, seed=0), ValueError),
    (lambda: circle_iv(100, "jump", rho=2, seed=0), ValueError),
    (lambda: circle_iv(100.5, "jump", seed=0), TypeError),
    (lambda: circle_iv(100, "jump", seed=-1), ValueError),
    (lambda: circle_iv(100, "jump", stage1_size=99, seed=0), ValueError),
    (lambda: demand_design(100, rho=float("nan"), seed=0), ValueError),
    (lambda: zoo("cubic", seed=0), ValueError),
])
def test_bad_inputs(call, error):
    with pytest.raises(error):
        call()


def test_risk_rejects_bad_models():
    data = circle_iv(100, "jump", seed=0)
    with pytest.raises(ValueError, match="finite prediction"):
        data.l2_risk(lambda x: np.full(len(x), np.nan))


def _truncation(data, terms):
    """The Fourier truncation of the true structural function to frequencies |k| <= terms (a real trig polynomial)."""
    k = np.arange(-terms, terms + 1)
    c = data.coefficients(k)
    return lambda x: np.real(np.exp(2j * np.pi * np.outer(x[:, 0], k)) @ c)


@pytest.mark.parametrize("target", CIRCLE_TARGETS)
def test_truncation_error_is_the_l2_risk_of_the_truncated_truth(target):
    data = circle_iv(10, target, seed=0)
    terms = np.array([1, 2, 5, 40])
    expected = [data.l2_risk(_truncation(data, j)) for j in terms]
    np.testing.assert_allclose(data.truncation_error(terms), expected, rtol=1e-9, atol=1e-12)


def test_stage2_noise_variance_matches_the_sample():
    """sigma_u^2 = E[(Y - (Th)(Z))^2] (exact formula) against a large sample, within K_SIGMA SE."""
    data = circle_iv(400_000, "smooth", alpha=0.5, rho=0.9, stage1_size=200_000, seed=11)
    z, y = data.stage1.z[:, 0], data.stage1.y
    k = np.arange(-2, 3)   # the smooth target's frequencies: Th is exact
    th = np.real(np.exp(2j * np.pi * np.outer(z, k)) @ (data.multiplier(k) * data.coefficients(k)))
    sq = (y - th) ** 2
    assert abs(sq.mean() - data.stage2_noise_variance()) <= K_SIGMA * sq.std() / np.sqrt(sq.size)
    assert circle_iv(10, "jump", control=True, seed=0).stage2_noise_variance() == pytest.approx(0.25, abs=1e-12)


@pytest.mark.parametrize("target, terms", [("kink", 3), ("jump", 2)])
def test_sieve_proxy_predicts_the_mean_sieve_risk(target, terms):
    """The proxy at a fixed J against the mean L2 risk of the Fourier sieve over replicates, within K_SIGMA SE."""
    n, reps = 2000, 16
    risks = []
    for seed in range(reps):
        data = circle_iv(n, target, seed=100 + seed)
        risks.append(data.l2_risk(SieveIV("fourier", terms).fit(data.stage1, data.stage2)))
    proxy = float(data.sieve_risk_curve(n - n // 2, terms))
    assert abs(np.mean(risks) - proxy) <= K_SIGMA * np.std(risks, ddof=1) / np.sqrt(reps)


@pytest.mark.parametrize("target, smooth, integ", [("jump", 1, 1), ("kink", 2, 1)])
def test_oracle_proxy_slope_at_huge_n_is_the_sympy_exponent(target, smooth, integ):
    """Deterministic: the local slope settles at the exponent up to the discrete cutoff (0.02: gate 1 (b)'s margin)."""
    data = circle_iv(10, target, seed=0)
    sizes = np.logspace(7, 9, 5).astype(int)
    risks = [data.oracle_sieve_proxy(m, np.arange(1, RISK_GRID // 2 + 1)) for m in sizes]
    slope = np.polyfit(np.log(sizes), np.log(risks), 1)[0]
    assert slope == pytest.approx(-float(thm.LINEAR_L2_RISK.evaluate(s=smooth, r=1.0, d=1, p=integ)), abs=0.02)


@pytest.mark.parametrize("call, error, name", [
    (lambda d: d.sieve_risk_curve(0, [1, 2]), ValueError, "n_stage2"),
    (lambda d: d.sieve_risk_curve(10.5, [1, 2]), TypeError, "n_stage2"),
    (lambda d: d.sieve_risk_curve(100, [0, 2]), ValueError, "terms"),
    (lambda d: d.sieve_risk_curve(100, []), ValueError, "terms"),
    (lambda d: d.sieve_risk_curve(100, [1.5]), TypeError, "terms"),
    (lambda d: d.oracle_sieve_proxy(100, [[1, 2]]), ValueError, "terms"),
    (lambda d: d.truncation_error(-1), ValueError, "terms"),
])
def test_sieve_proxy_rejects_bad_inputs(call, error, name):
    with pytest.raises(error, match=name):
        call(circle_iv(10, "jump", seed=0))
