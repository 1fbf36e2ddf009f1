"""theorytk.mfld._kernels against the plain-NumPy specification theorytk.mfld.reference.

* Both drivers (``advance_replicas``, ``advance_blocks``) equal ``reference.trajectory`` on
  the same noise to 1e-12, for every activation x loss, d in {1, 3}, N not a multiple of
  ``BLOCK`` (and N > BLOCK, so several blocks and a ragged last one), n not a multiple of
  the tile width, ``record_every > 1`` and a number of steps that is not a multiple of it.
* The two drivers (one step body, :func:`theorytk.mfld._kernels._step`, inlined into both)
  give bit-identical numbers, on 1 thread and on 2.
* Running a horizon in chunks (``step0`` > 0) gives the same numbers and records as one call.
* Divergence: ``status`` holds the global step at which a coordinate first exceeded the
  threshold (computed independently from the reference) or became NaN; that replica stops
  and the others are untouched.

All arrays passed to the kernels are C-contiguous float64 (int64 for ``status``), the
types that ``simulate`` passes, so these tests reuse its compiled specialisation.
"""
import numba
import numpy as np
import pytest

from theorytk import _gemm
from theorytk.mfld import _kernels, reference

ACT = {"tanh": _kernels.TANH, "identity": _kernels.IDENTITY}
LOSS = {"squared": _kernels.SQUARED, "logistic": _kernels.LOGISTIC}
DRIVERS = {"replicas": _kernels.advance_replicas, "blocks": _kernels.advance_blocks}
ATOL = 1e-12


def run_kernel(driver, X0, Z, y, activation, loss, lam, lam_l2, eta, noise, record_every, step0=0,
               threshold=1e6, n_records=None, status=None):
    """Call a kernel driver on copies; returns (X, out_f, out_sq, status)."""
    R, K = noise.shape[:2]
    n_records = (step0 + K + record_every - 1) // record_every if n_records is None else n_records
    X = np.ascontiguousarray(X0, dtype=np.float64).copy()
    out_f = np.full((R, n_records, Z.shape[0]), np.nan)
    out_sq = np.full((R, n_records), np.nan)
    status = np.full(R, -1, dtype=np.int64) if status is None else status.copy()
    driver(X, np.ascontiguousarray(Z.T), np.ascontiguousarray(y, dtype=np.float64), ACT[activation], LOSS[loss],
           float(lam), float(lam_l2), float(eta), np.ascontiguousarray(noise), step0, record_every,
           float(threshold), out_f, out_sq, status)
    return X, out_f, out_sq, status


def make_case(seed, R, N, d, n, K, loss, scale=1.0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0) if loss == "logistic" else rng.standard_normal(n)
    X0 = scale * rng.standard_normal((R, N, d + 1))
    noise = rng.standard_normal((R, K, N, d + 1))
    return X0, Z, y, noise


def test_block_is_a_whole_number_of_tiles():
    # a full block never ends in a partial tile of either product (the documented choice of BLOCK)
    assert _kernels.BLOCK % _gemm.TILE_ROWS == 0 and _kernels.BLOCK % _gemm.NT_ROWS == 0


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


@pytest.mark.parametrize("driver", sorted(DRIVERS))
@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("activation", ["tanh", "identity"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_kernel_equals_reference(driver, d, activation, loss):
    R, N, n, K, every = 3, _kernels.BLOCK + 5, 11, 10, 3
    assert N % _kernels.BLOCK != 0 and K % every != 0
    lam, lam_l2, eta = 0.07, 0.05, 0.1
    X0, Z, y, noise = make_case(1000 + 7 * d, R, N, d, n, K, loss)
    X, out_f, out_sq, status = run_kernel(DRIVERS[driver], X0, Z, y, activation, loss, lam, lam_l2, eta, noise,
                                          every)
    X_ref, f_ref, sq_ref = reference.trajectory(X0, Z, y, lam, lam_l2, eta, noise, every, activation, loss)
    assert out_f.shape == f_ref.shape == (R, 4, n)
    assert np.all(status == -1)
    np.testing.assert_allclose(X, X_ref, rtol=0, atol=ATOL)
    np.testing.assert_allclose(out_f, f_ref, rtol=0, atol=ATOL)
    np.testing.assert_allclose(out_sq, sq_ref, rtol=0, atol=ATOL * max(1.0, np.abs(sq_ref).max()))
    # the test is not vacuous: the particles moved by far more than the tolerance
    assert np.abs(X - X0).max() > 1e-3


@pytest.mark.parametrize("N", [1, 3, _kernels.BLOCK - 1, 2 * _kernels.BLOCK + 1])
def test_kernel_equals_reference_small_and_ragged_N(N):
    # N below one register tile, one short block, and a ragged third block
    X0, Z, y, noise = make_case(N, 2, N, 1, 5, 4, "squared")
    X, out_f, out_sq, _ = run_kernel(_kernels.advance_replicas, X0, Z, y, "tanh", "squared", 0.1, 0.05, 0.2,
                                     noise, 1)
    X_ref, f_ref, sq_ref = reference.trajectory(X0, Z, y, 0.1, 0.05, 0.2, noise, 1)
    np.testing.assert_allclose(X, X_ref, rtol=0, atol=ATOL)
    np.testing.assert_allclose(out_f, f_ref, rtol=0, atol=ATOL)
    np.testing.assert_allclose(out_sq, sq_ref, rtol=0, atol=ATOL)


def test_noise_scale_is_sqrt_2_lam_eta():
    # with a zero drift (identity activation, lam_l2 -> tiny, y = f) one step moves each
    # particle by exactly sqrt(2 lam eta) xi: the documented Euler-Maruyama noise scale
    R, N, d, n = 1, 8, 1, 4
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((n, d))
    X0 = np.zeros((R, N, d + 1))
    y = np.zeros(n)  # f = 0 = y at X = 0: the data gradient vanishes, and so does the L2 one
    noise = rng.standard_normal((R, 1, N, d + 1))
    lam, eta = 0.3, 0.02
    X, _, _, _ = run_kernel(_kernels.advance_replicas, X0, Z, y, "identity", "squared", lam, 0.05, eta, noise, 1)
    np.testing.assert_allclose(X, np.sqrt(2 * lam * eta) * noise[:, 0], rtol=1e-15, atol=0)


def _thread_counts():
    return sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})


# N = 3 BLOCK + 7: four blocks, the last one ragged (where the drivers' reductions could differ)
BIT_CASE = dict(R=3, N=3 * _kernels.BLOCK + 7, d=2, n=13, K=6, every=2)


def _bit_case(activation, loss):
    c = BIT_CASE
    X0, Z, y, noise = make_case(11, c["R"], c["N"], c["d"], c["n"], c["K"], loss)
    return (X0, Z, y, activation, loss, 0.05, 0.1, 0.05, noise, c["every"])


@pytest.mark.parametrize("driver", sorted(DRIVERS))
@pytest.mark.parametrize("activation,loss", [("tanh", "squared"), ("identity", "logistic")])
def test_same_numbers_on_one_and_two_threads(driver, activation, loss, restore_threads):
    args = _bit_case(activation, loss)
    results = {}
    for threads in _thread_counts():
        numba.set_num_threads(threads)
        results[threads] = run_kernel(DRIVERS[driver], *args)
    for res in results.values():
        for name, a, b in zip(("X", "out_f", "out_sq", "status"), results[1], res):
            assert np.array_equal(a, b), f"{driver}: {name} differs between 1 and 2 threads"


@pytest.mark.parametrize("activation,loss", [("tanh", "squared"), ("identity", "logistic")])
def test_drivers_bit_identical(activation, loss, restore_threads):
    args = _bit_case(activation, loss)
    for threads in _thread_counts():
        numba.set_num_threads(threads)
        a = run_kernel(_kernels.advance_replicas, *args)
        b = run_kernel(_kernels.advance_blocks, *args)
        for name, u, v in zip(("X", "out_f", "out_sq", "status"), a, b):
            assert np.array_equal(u, v), f"{name} differs between advance_replicas and advance_blocks"
    X_ref, f_ref, _ = reference.trajectory(*args[:3], *args[5:], activation=activation, loss=loss)
    np.testing.assert_allclose(a[0], X_ref, rtol=0, atol=ATOL)


def test_drivers_second_moment_bit_identical():
    args = _bit_case("tanh", "squared")
    a = run_kernel(_kernels.advance_replicas, *args)
    b = run_kernel(_kernels.advance_blocks, *args)
    assert np.array_equal(a[2], b[2])


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_chunked_call_equals_single_call(driver):
    # simulate() advances in chunks with a global step0; records land in global slots
    R, N, d, n, K, every = 2, 40, 1, 9, 11, 3
    X0, Z, y, noise = make_case(5, R, N, d, n, K, "squared")
    full = run_kernel(DRIVERS[driver], X0, Z, y, "tanh", "squared", 0.05, 0.05, 0.1, noise, every)
    S = full[1].shape[1]
    X = X0.copy()
    out_f, out_sq = np.full((R, S, n), np.nan), np.full((R, S), np.nan)
    status = np.full(R, -1, dtype=np.int64)
    Zt = np.ascontiguousarray(Z.T)
    for a, b in [(0, 4), (4, 5), (5, 11)]:
        chunk = np.ascontiguousarray(noise[:, a:b])
        DRIVERS[driver](X, Zt, y, ACT["tanh"], LOSS["squared"], 0.05, 0.05, 0.1, chunk, a, every, 1e6,
                        out_f, out_sq, status)
    assert np.array_equal(X, full[0])
    assert np.array_equal(out_f, full[1])
    assert np.array_equal(out_sq, full[2])


def _first_bad_step(X0, Z, y, lam, lam_l2, eta, noise, threshold, activation, loss):
    """Per replica, the first step s whose update leaves some |x| > threshold or NaN (else -1), from the reference."""
    R, K = noise.shape[:2]
    first = np.full(R, -1)
    X = X0.copy()
    with np.errstate(all="ignore"):
        for s in range(K):
            X, _ = reference.step(X, Z, y, lam, lam_l2, eta, noise[:, s], activation, loss)
            bad = ~np.all(np.abs(X) <= threshold, axis=(1, 2))
            first[(first < 0) & bad] = s
    return first


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_divergence_status_at_the_right_step_huge_eta(driver):
    R, N, d, n, K = 3, 37, 1, 6, 30
    X0, Z, y, noise = make_case(17, R, N, d, n, K, "squared")
    X0[0] *= 1e-4  # replicas start at different scales, so they blow up at different steps
    X0[2] *= 1e2
    lam, lam_l2, eta, threshold, step0 = 0.01, 0.5, 40.0, 1e6, 100
    want = _first_bad_step(X0, Z, y, lam, lam_l2, eta, noise, threshold, "tanh", "squared")
    assert np.all(want >= 0) and len(set(want)) > 1, want  # the scenario really diverges, at distinct steps
    with np.errstate(all="ignore"):
        X, out_f, _, status = run_kernel(DRIVERS[driver], X0, Z, y, "tanh", "squared", lam, lam_l2, eta, noise,
                                         1, step0=step0, threshold=threshold)
    np.testing.assert_array_equal(status, step0 + want)
    # each replica stopped right after its bad step: no record after it was written
    for r, s in enumerate(want):
        assert np.all(np.isfinite(out_f[r, step0: step0 + s + 1]))
        assert np.all(np.isnan(out_f[r, step0 + s + 1:]))


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_divergence_status_for_nan_init(driver):
    R, N, d, n, K, step0 = 3, 40, 2, 7, 5, 12
    X0, Z, y, noise = make_case(23, R, N, d, n, K, "squared")
    X0[1, 33, 0] = np.nan  # in the second block of replica 1
    with np.errstate(all="ignore"):
        X, out_f, out_sq, status = run_kernel(DRIVERS[driver], X0, Z, y, "tanh", "squared", 0.1, 0.05, 0.1,
                                              noise, 1, step0=step0)
    np.testing.assert_array_equal(status, [-1, step0, -1])
    # the healthy replicas are exactly what they are without the sick one
    healthy = [0, 2]
    alone = run_kernel(DRIVERS[driver], X0[healthy], Z, y, "tanh", "squared", 0.1, 0.05, 0.1, noise[healthy], 1,
                       step0=step0)
    assert np.array_equal(X[healthy], alone[0])
    assert np.array_equal(out_f[healthy], alone[1], equal_nan=True)
    assert np.all(np.isfinite(X[healthy]))


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_stopped_replica_is_skipped(driver):
    # a replica whose status is already set is not advanced by a later chunk
    X0, Z, y, noise = make_case(29, 2, 9, 1, 4, 3, "squared")
    status = np.array([-1, 7], dtype=np.int64)
    X, _, _, status_out = run_kernel(DRIVERS[driver], X0, Z, y, "tanh", "squared", 0.1, 0.05, 0.1, noise, 1,
                                     step0=10, status=status)
    assert np.array_equal(X[1], X0[1])
    assert not np.array_equal(X[0], X0[0])
    np.testing.assert_array_equal(status_out, [-1, 7])
