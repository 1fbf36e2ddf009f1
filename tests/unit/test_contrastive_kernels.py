"""theorytk.contrastive kernels against the NumPy reference and against finite differences.

The kernel and the reference sum in different orders (per batch in the kernel, vectorised
in NumPy), so they agree to rounding: 1e-12 on the loss and gradients, and on the minimiser's
end points after hundreds of steps (the iteration is contracting near the optimum, so
rounding does not grow).
"""
from math import comb

import numpy as np
import pytest

from theorytk.contrastive import _kernels, all_batches, disjoint_batches, random_subset, reference
from theorytk.contrastive.minimise import initial_points


def _point(N, d, seed):
    return initial_points(N, d, 1, seed)[0]


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("N,B,d,tau", [(6, 2, 3, 1.0), (7, 3, 7, 0.5), (8, 8, 4, 2.0), (10, 5, 10, 1.0)])
def test_loss_and_gradient_equal_the_reference(N, B, d, tau, symmetric):
    U, V = _point(N, d, N + B)
    for batches in (all_batches(N, B), random_subset(N, B, min(3, comb(N, B)), seed=1)):
        value, gU, gV = _kernels.loss_and_gradient(U, V, batches, tau, symmetric)
        ref_value, ref_gU, ref_gV = reference.loss_and_gradient(U, V, batches, tau, symmetric)
        assert value == pytest.approx(ref_value, rel=1e-12)
        np.testing.assert_allclose(gU, ref_gU, atol=1e-12)
        np.testing.assert_allclose(gV, ref_gV, atol=1e-12)


@pytest.mark.parametrize("symmetric", [True, False])
def test_gradient_matches_central_differences(symmetric):
    """Central differences with h = 1e-6: truncation O(h^2) ~ 1e-12, rounding ~ 1e-16/h = 1e-10."""
    N, d, tau, h = 6, 4, 0.7, 1e-6
    U, V = _point(N, d, 3)
    batches = random_subset(N, 3, 7, seed=2)
    _, gU, gV = _kernels.loss_and_gradient(U, V, batches, tau, symmetric)
    for which, grad in ((0, gU), (1, gV)):
        numeric = np.empty_like(grad)
        for i in range(N):
            for k in range(d):
                X = [U.copy(), V.copy()]
                X[which][i, k] += h
                up = _kernels.loss_and_gradient(X[0], X[1], batches, tau, symmetric)[0]
                X[which][i, k] -= 2 * h
                down = _kernels.loss_and_gradient(X[0], X[1], batches, tau, symmetric)[0]
                numeric[i, k] = (up - down) / (2 * h)
        np.testing.assert_allclose(grad, numeric, atol=1e-8)


@pytest.mark.parametrize("N,B,d", [(6, 2, 6), (6, 3, 3), (8, 4, 8)])
def test_minimiser_equals_the_reference(N, B, d):
    X0 = initial_points(N, d, 3, seed=4)
    for batches in (all_batches(N, B), disjoint_batches(N, B)):
        X = X0.copy()
        loss, gnorm, steps = np.empty(3), np.empty(3), np.empty(3, dtype=np.int64)
        _kernels.minimise(X, batches, 1.0, True, 0.5 * N, 1e-9, 400, loss, gnorm, steps)
        ref_X, ref_loss, ref_gnorm, ref_steps = reference.minimise(X0, batches, 1.0, True, 0.5 * N, 1e-9, 400)
        np.testing.assert_array_equal(steps, ref_steps)
        np.testing.assert_allclose(X, ref_X, atol=1e-12)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
        np.testing.assert_allclose(gnorm, ref_gnorm, rtol=1e-6, atol=1e-14)


def test_restarts_are_independent_of_the_thread_count():
    from tests._threads import on_one_and_two_threads

    X0 = initial_points(8, 8, 4, seed=5)
    batches = all_batches(8, 3)

    def compute():
        X = X0.copy()
        loss, gnorm, steps = np.empty(4), np.empty(4), np.empty(4, dtype=np.int64)
        _kernels.minimise(X, batches, 1.0, True, 4.0, 1e-10, 2000, loss, gnorm, steps)
        return X, steps

    (X1, s1), (X2, s2) = on_one_and_two_threads(compute)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(s1, s2)
