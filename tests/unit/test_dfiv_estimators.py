"""Estimators of theorytk.dfiv: exact KIV reuse, selection, bad inputs, divergence."""
import numpy as np
import pytest

from theorytk.dfiv import DFIV, KernelIV, SieveIV, circle_iv, demand_design, demand_dfiv, select, validation_loss
from theorytk.dfiv.data import Sample, circle_embedding
from theorytk.dfiv.dfiv import TrainingDiverged
from theorytk.dfiv.kernel_iv import naive_kiv_predict


def test_kiv_eigendecomposition_reuse_equals_naive_dense_solves():
    data = circle_iv(300, "jump", seed=0)
    model = KernelIV(lam1=1e-3).fit(data.stage1, data.stage2)  # the naive path is ill-conditioned for tiny lam1
    for lam2 in (model.lam2_, 1e-5, 1e-3):
        naive = naive_kiv_predict(data.stage1, data.stage2, data.test_x[::20], model.lam1_, lam2, model.sigma_x,
                                  model.sigma_z)
        np.testing.assert_allclose(model.predict(data.test_x[::20], lam2=lam2), naive, rtol=1e-7,
                                   atol=1e-7 * np.abs(naive).max())


def test_kiv_xi_choice_is_the_authors_stage2_tuning_by_dense_solves():
    """xi minimises ||y1 - K alpha(xi)|| (KernelIV/trainer.py ``stage2_tuning``), alpha by the literal solves."""
    data = circle_iv(300, "jump", seed=3)
    grid = np.logspace(-8, -2, 7)
    model = KernelIV(lam1=1e-3, grid=grid).fit(data.stage1, data.stage2)
    s1, s2 = data.stage1, data.stage2
    K = np.exp(-((s1.x - s1.x.T) ** 2) / model.sigma_x)
    L = np.exp(-((s1.z - s1.z.T) ** 2) / model.sigma_z)
    W = K @ np.linalg.solve(L + s1.size * 1e-3 * np.eye(s1.size), np.exp(-((s1.z - s2.z.T) ** 2) / model.sigma_z))
    scores = [np.linalg.norm(s1.y - K @ np.linalg.solve(W @ W.T + s2.size * xi * K, W @ s2.y)) for xi in grid]
    assert model.lam2_ == grid[int(np.argmin(scores))]


def test_random_feature_kiv_converges_to_exact_kiv_as_features_grow():
    from theorytk.dfiv import RandomFeatureKIV

    data = circle_iv(400, "kink", seed=0)
    exact = KernelIV(lam1=1e-2, lam2=1e-2).fit(data.stage1, data.stage2).predict(data.test_x)

    def relative_rms(d):
        approx = RandomFeatureKIV(d, 1e-2, 1e-2).fit(data.stage1, data.stage2, seed=1).predict(data.test_x)
        return np.sqrt(np.mean((approx - exact) ** 2)) / np.std(exact)

    small, large = relative_rms(50), relative_rms(4000)
    # Monte Carlo kernel error ~ D^(-1/2): 4000 features must be closer, and within a few percent
    assert large < small and large < 0.03


def test_kiv_with_validation_selects_on_it():
    data = circle_iv(400, "kink", seed=1)
    model = KernelIV().fit(data.stage1, data.stage2, data.validation)
    assert model.lam2_ in model.grid and np.isfinite(data.l2_risk(model))


def test_selection_reports_validation_choice_and_labelled_oracle():
    data = circle_iv(2000, "kink", seed=2)
    sel = select(lambda j: SieveIV("fourier", j), [1, 2, 4, 8, 16], data, risk=data.l2_risk)
    losses = [row["validation_loss"] for row in sel.table]
    assert sel.chosen_setting == [1, 2, 4, 8, 16][int(np.argmin(losses))]
    assert sel.oracle_setting == [1, 2, 4, 8, 16][int(np.argmin([row["risk"] for row in sel.table]))]


def test_fourier_sieve_recovers_a_function_in_its_span_without_endogeneity():
    data = circle_iv(4000, "smooth", control=True, sigma=0.01, seed=3)
    # h is a trigonometric polynomial of degree 2: the risk is the noise's, ~ (2J + 1) 0.01^2 / m
    assert data.l2_risk(SieveIV("fourier", 3).fit(data.stage1, data.stage2)) < 10 * 7 * 1e-4 / 2000


@pytest.mark.parametrize("basis, sizes", [("hermite", (5, 7, 9)), ("spline", (6, 8, 12))])
def test_polynomial_and_spline_sieves_converge_as_the_basis_grows(basis, sizes):
    data = circle_iv(4000, "smooth", control=True, sigma=0.01, seed=3)
    risks = [data.l2_risk(SieveIV(basis, j).fit(data.stage1, data.stage2)) for j in sizes]
    assert risks[0] > risks[1] > risks[2] and risks[2] < 1e-3


def test_dfiv_beats_the_mean_on_an_easy_problem():
    data = circle_iv(1000, "smooth", seed=4)
    model = DFIV(lam1=1e-2, lam2=1e-2, epochs=60, stage1_iter=5, lr=1e-2, treatment_input=circle_embedding,
                 instrument_input=circle_embedding).fit(data.stage1, data.stage2, data.validation, seed=0)
    assert data.l2_risk(model) < 0.2 * data.l2_risk(lambda x: np.full(len(x), data.stage2.y.mean()))
    assert len(model.history["validation_loss"]) == len(model.history["epoch"]) and 0 <= model.best_epoch < 60


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning", "ignore:overflow:RuntimeWarning")
def test_dfiv_divergence_is_reported_with_the_epoch():
    data = circle_iv(200, "jump", seed=5)
    with pytest.raises(TrainingDiverged, match="epoch"):
        DFIV(lam1=1e-3, lam2=1e-3, epochs=50, lr=1e300).fit(data.stage1, data.stage2, seed=0)


def _bad_stage(kind):
    data = circle_iv(100, "jump", seed=0)
    s = data.stage1
    if kind == "nan":
        y = s.y.copy()
        y[3] = np.nan
        return Sample(s.x, s.z, y), data.stage2
    if kind == "columns":
        return Sample(s.x, np.hstack([s.z, s.z]), s.y), data.stage2
    return "not a sample", data.stage2


@pytest.mark.parametrize("kind, error", [("nan", ValueError), ("columns", ValueError), ("type", TypeError)])
@pytest.mark.parametrize("make", [lambda: SieveIV("fourier", 2), lambda: KernelIV(), lambda: DFIV(epochs=1)])
def test_bad_stages_are_rejected_before_fitting(make, kind, error):
    with pytest.raises(error):
        make().fit(*_bad_stage(kind))


def test_shape_mismatch_in_a_sample():
    with pytest.raises(ValueError, match="same number of rows"):
        Sample(np.zeros((3, 1)), np.zeros((4, 1)), np.zeros(3))


def test_too_few_samples_for_the_basis():
    data = circle_iv(20, "jump", seed=0)
    with pytest.raises(ValueError, match="too few samples"):
        SieveIV("fourier", 8).fit(data.stage1, data.stage2)
    with pytest.raises(ValueError, match="too few samples"):
        DFIV(instrument_features=64).fit(data.stage1, data.stage2)


@pytest.mark.parametrize("make, error", [
    (lambda: SieveIV("wavelet", 3), ValueError), (lambda: SieveIV("fourier", 0), ValueError),
    (lambda: SieveIV("spline", 2), ValueError), (lambda: KernelIV(lam1=-1.0), ValueError),
    (lambda: KernelIV(kernel="poly"), ValueError), (lambda: DFIV(lam1=0.0), ValueError),
    (lambda: DFIV(epochs=2.5), TypeError), (lambda: DFIV(lr=float("inf")), ValueError),
    (lambda: DFIV(schedule="step"), ValueError), (lambda: DFIV(treatment_input=3), TypeError),
    (lambda: DFIV(backend="torch"), ValueError), (lambda: DFIV(covariates=(1, 1)), ValueError),
    (lambda: DFIV(covariates=()), ValueError), (lambda: DFIV(covariates=(-1,)), ValueError),
    (lambda: DFIV(covariates=(0.5,)), TypeError),
])
def test_bad_hyperparameters(make, error):
    with pytest.raises(error):
        make()


def test_demand_design_runs_end_to_end_small():
    data = demand_design(600, seed=0)
    model = SieveIV("hermite", 2).fit(data.stage1, data.stage2)
    assert np.isfinite(data.mse(model))


def _small_demand(backend="numba", **overrides):
    return demand_dfiv(**{**dict(treatment_layers=(4,), instrument_layers=(8,), covariate_layers=(8,), covariate_features=3,
                                 instrument_features=5, epochs=6, stage1_iter=2, covariate_iter=2, eval_every=2,
                                 backend=backend), **overrides})


def test_dfiv_with_covariates_numba_equals_numpy_reference_and_uses_the_covariates():
    data = demand_design(600, seed=1)
    models = [_small_demand(b).fit(data.stage1, data.stage2, data.validation, seed=2) for b in ("numba", "numpy")]
    preds = [m.predict(data.test_x) for m in models]
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-8, atol=1e-8)
    model = models[0]
    assert model.fit_.stage2.size == (1 + 1) * (3 + 1)   # [psi, 1] outer [xi, 1]
    assert model.history["validation_loss"] and validation_loss(model, data.validation) > 0
    moved = data.test_x.copy()
    moved[:, 1] += 1.0                                    # another time: covariate features change the prediction
    assert not np.allclose(model.predict(moved), preds[0])


def test_covariate_errors_name_the_problem():
    data = demand_design(300, seed=0)
    with pytest.raises(ValueError, match="at least one treatment column"):
        demand_dfiv(covariates=(0, 1, 2), epochs=1).fit(data.stage1, data.stage2)
    model = _small_demand().fit(data.stage1, data.stage2, seed=0)
    with pytest.raises(ValueError, match="covariates"):
        model.predict_instrument(data.validation.z)


@pytest.mark.parametrize("standardize", [True, False])
def test_standardized_inputs_make_the_fit_invariant_to_affine_units(standardize):
    """standardize_inputs=True: x, z in other units (a x + b per column) give the same predictions; raw inputs do not."""
    data = demand_design(600, seed=3)
    scale, shift = np.array([2.0, 0.5, 3.0]), np.array([-7.0, 1.0, 4.0])

    def moved(sample):
        return Sample(sample.x * scale + shift, sample.z * scale + shift, sample.y)

    preds = []
    for s1, s2, test_x in ((data.stage1, data.stage2, data.test_x),
                           (moved(data.stage1), moved(data.stage2), data.test_x * scale + shift)):
        model = _small_demand(standardize_inputs=standardize, epochs=4).fit(s1, s2, seed=1)
        preds.append(model.predict(test_x))
    # rounding of the standardisation only (a few ulps), grown over 4 epochs of Adam; raw inputs move
    # the predictions by O(1) relative
    if standardize:
        np.testing.assert_allclose(preds[0], preds[1], rtol=1e-6, atol=1e-6 * np.abs(preds[0]).max())
    else:
        assert not np.allclose(preds[0], preds[1], rtol=1e-2)


def test_demand_dfiv_puts_batch_norm_where_the_authors_nets_have_it():
    """Instrument net: on the output layer; covariate net: on the last hidden product (before its ReLU); treatment: none."""
    data = demand_design(300, seed=0)
    model = demand_dfiv(epochs=1, stage1_iter=1, covariate_iter=1).fit(data.stage1, data.stage2, seed=0)
    assert model.instrument_net.batch_norm == (2,) and tuple(model.instrument_net.sizes) == (3, 128, 64, 32)
    assert model.covariate_net.batch_norm == (1,) and tuple(model.covariate_net.sizes) == (2, 128, 32, 16)
    assert model.treatment_net.batch_norm == () and not model.standardize_inputs
    assert np.any(model.instrument_net.stats[0] != 0.0)   # the running statistics moved during training


def test_dfiv_normalisation_arguments_are_checked():
    with pytest.raises(ValueError, match="instrument_batch_norm entry must be <= 1"):
        DFIV(instrument_layers=(8,), instrument_batch_norm=(2,))
    with pytest.raises(ValueError, match="covariate_batch_norm entry must be >= -3"):
        DFIV(covariate_layers=(8, 4), covariate_batch_norm=(-4,))
    with pytest.raises(TypeError, match="standardize_inputs must be a bool"):
        DFIV(standardize_inputs=1)
