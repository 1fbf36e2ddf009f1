"""theorytk._vecmath.tanh against np.tanh: absolute error <= 4e-16 everywhere; exp_nonpositive within 2 ulp.

The kernels only need absolute accuracy (the module docstring says so: near 0 the relative
error degrades where the numerator cancels), so the criterion is ``|tanh(x) - np.tanh(x)|
<= 4e-16`` for every double, plus the exact special values: NaN -> NaN, +-inf -> +-1,
-0.0 -> -0.0, and oddness (the odd-symmetry property test of the kernels relies on it).
"""
import numpy as np
import pytest
from numba import njit

from theorytk._vecmath import EXP_FLOOR, exp_nonpositive, tanh, tanh_inplace

ATOL = 4e-16


@njit(cache=False)
def _scalar_tanh(values, out):
    # the scalar function as inlined in the kernels, one call per element (no vector loop)
    for i in range(values.shape[0]):
        out[i] = tanh(values[i])


def _both(x):
    """(tanh_inplace(x), elementwise scalar tanh(x)) on a copy of the 1-D array ``x``."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    vec = x.copy()
    tanh_inplace(vec)
    scalar = np.empty_like(x)
    _scalar_tanh(x, scalar)
    return vec, scalar


def _grids():
    rng = np.random.default_rng(20240601)
    tiny = np.concatenate([[5e-324, 2.2250738585072014e-308, 1e-300, 1e-200, 1e-100, 1e-30],
                           np.logspace(-320, -8, 4001)])
    near_cut = np.linspace(17.0, 23.0, 6001)  # around the clamp at |x| = 20 (tanh 20 == 1.0)
    huge = np.concatenate([np.logspace(1, 308, 2001), [np.finfo(float).max]])
    # every reduction interval k ln2/2 boundary on [0, 20] and its neighbours
    boundaries = np.arange(0, 60) * np.log(2) / 2
    edges = np.concatenate([boundaries, np.nextafter(boundaries, -1), np.nextafter(boundaries, 2)])
    parts = [
        np.linspace(-40.0, 40.0, 400_001),
        rng.standard_normal(200_000) * 1e-3,
        rng.standard_normal(200_000),
        rng.standard_normal(200_000) * 8,
        rng.uniform(-1, 1, 200_000) * 10.0 ** rng.uniform(-20, 3, 200_000),
        tiny, near_cut, huge, edges, [0.0, 0.5, 1.0, 0.3465735902799726, 0.5493061443340549],
    ]
    half = np.concatenate([np.ravel(p) for p in parts])
    return np.concatenate([half, -half])


def test_tanh_absolute_error_wide_ranges():
    x = _grids()
    want = np.tanh(x)
    for name, got in zip(("tanh_inplace", "scalar tanh"), _both(x)):
        err = np.abs(got - want)
        worst = int(np.argmax(err))
        assert err[worst] <= ATOL, f"{name}: |tanh - np.tanh| = {err[worst]:.3g} at x = {x[worst]!r}"


@pytest.mark.parametrize("length", [0, 1, 2, 3, 7, 8, 9, 31, 64, 101])
def test_tanh_inplace_every_length(length):
    # odd lengths and lengths that are not multiples of a SIMD width exercise remainder code
    x = np.linspace(-3.0, 3.0, length) + 0.1234
    got = x.copy()
    tanh_inplace(got)
    np.testing.assert_allclose(got, np.tanh(x), rtol=0, atol=ATOL)


def test_tanh_special_values():
    x = np.array([np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 1e308, -1e308, 5e-324, -5e-324])
    for got in _both(x):
        assert got[0] == 1.0 and got[1] == -1.0
        assert np.isnan(got[2]) and np.isnan(got[3])
        assert got[4] == 0.0 and not np.signbit(got[4])
        assert got[5] == 0.0 and np.signbit(got[5]), "tanh(-0.0) must be -0.0"
        assert got[6] == 1.0 and got[7] == -1.0
        assert abs(got[8]) <= ATOL and abs(got[9]) <= ATOL
        assert not np.signbit(got[8]) and np.signbit(got[9])


def test_tanh_is_exactly_odd_and_bounded():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(100_000) * 5, np.logspace(-30, 3, 1000)])
    pos, neg = _both(x)[0], _both(-x)[0]
    assert np.array_equal(neg, -pos), "tanh(-x) must equal -tanh(x) bit for bit"
    assert np.all(np.abs(pos) <= 1.0)


@njit(fastmath=False, error_model="numpy")
def _exp_all(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = exp_nonpositive(x[i])
    return out


def test_vectorised_exp_is_within_two_ulp_of_numpy():
    rng = np.random.default_rng(11)
    x = np.concatenate([-rng.uniform(0, -EXP_FLOOR, 200_000), -rng.exponential(1e-3, 1000),
                        [0.0, -0.0, -5e-324, -1e-300, EXP_FLOOR, -np.log(2) / 2, -np.log(2)]])
    got, want = _exp_all(x), np.exp(x)
    assert np.all(np.abs(got - want) <= 2 * np.spacing(want))
    assert _exp_all(np.array([0.0]))[0] == 1.0
    below = _exp_all(np.array([EXP_FLOOR - 1e-9, -720.0, -1e308, -np.inf]))
    np.testing.assert_array_equal(below, 0.0)                        # np.exp: < 3.31e-308 (subnormal) there
    assert np.isnan(_exp_all(np.array([np.nan]))[0])                 # divergence stays visible
