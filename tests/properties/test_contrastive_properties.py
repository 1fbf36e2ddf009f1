"""Hypothesis properties of theorytk.contrastive: the ETF is stationary for every (N, B, tau), its
loss is the closed form, and removing any one batch breaks the stationarity (the 'only if').

Tolerances: the gradient at the exact ETF is a sum of O(C(N,B) B^2) terms of size <= 1/(m B tau),
so its rounding is ~1e-15; 1e-12 leaves a factor 1000. The removed-batch tangent gradient is
bounded below analytically by (2 p_o/(m B tau)) x (norm of the tangent part of a sum of B-1 ETF
vectors) > 0; we only assert it exceeds 1e-8, far above rounding.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorytk import contrastive as c
from theorytk.contrastive import _kernels, reference
from theorytk.contrastive.minimise import initial_points
from theorytk.testing.strategies import seeds

sizes = st.integers(3, 9).flatmap(lambda n: st.tuples(st.just(n), st.integers(2, n)))
taus = st.floats(0.25, 4.0)


def _tangent_norm(E, gU, gV):
    return float(np.sqrt(np.sum(reference.tangent(E, gU) ** 2) + np.sum(reference.tangent(E, gV) ** 2)))


@settings(max_examples=40, deadline=None)
@given(sizes, taus, st.integers(0, 3))
def test_etf_is_stationary_and_its_loss_is_the_closed_form(size, tau, extra_dims):
    N, B = size
    E = c.simplex_etf(N, N - 1 + extra_dims)
    batches = c.all_batches(N, B)
    gU, gV = c.gradient(E, E, batches, tau=tau)
    assert _tangent_norm(E, gU, gV) < 1e-12
    assert c.loss(E, E, batches, tau=tau) == pytest.approx(c.etf_loss(N, B, tau), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(sizes.filter(lambda s: s[1] < s[0]), taus, st.data())
def test_removing_any_batch_breaks_stationarity(size, tau, data):
    N, B = size
    batches = c.all_batches(N, B)
    drop = data.draw(st.integers(0, len(batches) - 1))
    E = c.simplex_etf(N, N)
    gU, gV = c.gradient(E, E, np.delete(batches, drop, axis=0), tau=tau)
    assert _tangent_norm(E, gU, gV) > 1e-8


@settings(max_examples=25, deadline=None)
@given(sizes, taus, st.integers(1, 6), seeds(), st.booleans())
def test_kernel_equals_reference_on_random_points(size, tau, d, seed, symmetric):
    N, B = size
    U, V = initial_points(N, d, 1, seed)[0]
    batches = c.random_subset(N, B, min(5, len(c.all_batches(N, B))), seed=seed)
    value, gU, gV = _kernels.loss_and_gradient(U, V, batches, tau, symmetric)
    ref_value, ref_gU, ref_gV = reference.loss_and_gradient(U, V, batches, tau, symmetric)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(gU, ref_gU, atol=1e-12 / tau)
    np.testing.assert_allclose(gV, ref_gV, atol=1e-12 / tau)
