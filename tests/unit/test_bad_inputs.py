"""Bad inputs refused clearly (issue 13 part 5): each case asserts the error type and that the message names the argument.

Also divergence: an iterative solver whose state becomes non-finite raises its
:class:`~theorytk.errors.SolverFailure` subclass with the step (epoch, iteration) and a hint.
"""
import numpy as np
import pytest

from theorytk.dfiv import DFIV, KernelIV, RandomFeatureKIV, SieveIV, TrainingDiverged, circle_iv
from theorytk.errors import NotFitted

# -- DFIV estimators: predict validates like fit ------------------------------------------

ESTIMATORS = {
    "sieve": lambda: SieveIV("fourier", 2),
    "kiv": lambda: KernelIV(lam1=1e-2, lam2=1e-2),
    "rff": lambda: RandomFeatureKIV(20),
    "dfiv": lambda: DFIV(epochs=2, treatment_layers=(4,), instrument_layers=(4,), instrument_features=4,
                         treatment_features=2),
}


@pytest.fixture(scope="module")
def iv_data():
    return circle_iv(200, "jump", seed=0)


@pytest.fixture(scope="module")
def fitted(iv_data):
    return {name: make().fit(iv_data.stage1, iv_data.stage2) for name, make in ESTIMATORS.items()}


@pytest.mark.parametrize("method, argument", [("predict", "x"), ("predict_instrument", "z")])
@pytest.mark.parametrize("bad, error", [
    (None, TypeError),                        # was: [nan]
    ("abc", TypeError),                       # was: numpy's "could not convert string to float"
    ([[1.0, 2.0], [3.0]], ValueError),        # was: numpy's "setting an array element with a sequence"
    (np.zeros((3, 5)), ValueError),           # was: SieveIV used column 0 silently; KIV a raw matmul error
    (np.array([[np.nan]]), ValueError),       # was: a nan prediction
    (np.zeros((2, 2, 2)), ValueError),        # was: SieveIV predicted 4 values
])
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_predict_refuses_bad_rows_naming_the_argument(fitted, name, method, argument, bad, error):
    with pytest.raises(error, match=rf"^{argument} must"):
        getattr(fitted[name], method)(bad)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_predict_names_the_fitted_column_count(fitted, name):
    with pytest.raises(ValueError, match=r"^x must have 1 columns, as the stage-1 x .* got shape \(3, 5\)"):
        fitted[name].predict(np.zeros((3, 5)))


@pytest.mark.parametrize("method", ["predict", "predict_instrument"])
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_predict_before_fit_says_fit_first(name, method):
    """Was an AttributeError about a private attribute (``fit_``, ``_z1``, ``_z_in``)."""
    with pytest.raises(NotFitted, match=rf"{ESTIMATORS[name]().__class__.__name__} is not fitted: call its fit"):
        getattr(ESTIMATORS[name](), method)(np.zeros((3, 1)))


@pytest.mark.parametrize("call, argument, error", [
    (lambda m: m.predict_path(None, [1e-3]), "x", TypeError),
    (lambda m: m.predict_path(np.zeros((2, 1)), [1e-3, -1.0]), "lam2_values", ValueError),
    (lambda m: m.predict_path(np.zeros((2, 1)), []), "lam2_values", ValueError),
    (lambda m: m.predict(np.zeros((2, 1)), lam2=0.0), "lam2", ValueError),
])
def test_kernel_iv_path_arguments(fitted, call, argument, error):
    with pytest.raises(error, match=rf"^{argument} must"):
        call(fitted["kiv"])


def test_a_refit_that_fails_midway_leaves_the_estimator_unfitted(iv_data):
    """Refused stages leave the earlier fit in place; a fit that fails after changing the state does not."""
    model = SieveIV("fourier", 8).fit(iv_data.stage1, iv_data.stage2)
    with pytest.raises(TypeError, match="stage1"):
        model.fit("not a sample", iv_data.stage2)
    assert model.predict(np.zeros((2, 1))).shape == (2,)
    small = circle_iv(20, "jump", seed=0)
    with pytest.raises(ValueError, match="too few samples"):
        model.fit(small.stage1, small.stage2)
    with pytest.raises(NotFitted, match="not fitted"):
        model.predict(np.zeros((2, 1)))


@pytest.mark.parametrize("rows, pattern", [(None, "pass the rows x"), (slice(0, 5), "^x must have one row per row of z"),
                                            ((slice(None), slice(0, 1)), "^x must have 3 columns")])
def test_dfiv_covariate_rows_of_predict_instrument(rows, pattern):
    from theorytk.dfiv import demand_design, demand_dfiv

    data = demand_design(300, seed=0)
    model = demand_dfiv(epochs=1, instrument_layers=(8,), covariate_layers=(8,), instrument_features=8,
                        covariate_features=4, stage1_iter=1, covariate_iter=1).fit(data.stage1, data.stage2)
    x = None if rows is None else data.validation.x[rows]
    with pytest.raises(ValueError, match=pattern):
        model.predict_instrument(data.validation.z, x)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning", "ignore:overflow:RuntimeWarning")
@pytest.mark.parametrize("lr", [1e3, 1e10, 1e20])
def test_dfiv_large_learning_rate_is_training_diverged_with_the_epoch(iv_data, lr):
    """Was numpy's LinAlgError "k-th leading minor of the array is not positive definite", no epoch."""
    with pytest.raises(TrainingDiverged, match=r"epoch \d+: .*lower lr") as caught:
        DFIV(lam1=1e-3, lam2=1e-3, epochs=20, lr=lr).fit(iv_data.stage1, iv_data.stage2, seed=0)
    assert isinstance(caught.value.__cause__, np.linalg.LinAlgError) or "non-finite" in str(caught.value)


# -- mfld: sizes beyond the machine's memory are refused before allocating ----------------

def _mean_field_problem():
    from theorytk.mfld import MeanFieldProblem

    z = np.linspace(-2.0, 2.0, 8)
    return MeanFieldProblem(z=z, y=0.8 * np.sin(1.5 * z), lam=0.1, lam_l2=0.05)


@pytest.mark.parametrize("sizes, names", [
    (dict(replicas=10**12), ("replicas", "n_particles")),           # was: a hang while memory grew
    (dict(n_particles=10**11), ("replicas", "n_particles")),
    (dict(steps=10**12, record_every=1), ("record_every", "steps")),
])
def test_simulate_refuses_sizes_beyond_memory(sizes, names):
    from theorytk.mfld import simulate

    with pytest.raises(ValueError, match="".join(rf"(?=.*\b{n}\b)" for n in names) + ".*GiB of memory"):
        simulate(_mean_field_problem(), **{"n_particles": 4, "steps": 3, "eta": 0.05, **sizes})


def test_simulate_ensemble_names_replicas_times_members():
    from theorytk.mfld import simulate_ensemble

    with pytest.raises(ValueError, match=r"^replicas \* members = 10000000000000 with n_particles = 4"):
        simulate_ensemble(_mean_field_problem(), 4, 10**6, 3, 0.05, replicas=10**7)


def test_the_memory_cap_is_the_machines_and_absent_where_unknown(monkeypatch):
    import os

    from theorytk.mfld import langevin

    if hasattr(os, "sysconf"):
        assert langevin.memory_cap() == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    monkeypatch.setattr(langevin, "memory_cap", lambda: 100)  # bytes
    with pytest.raises(ValueError, match=r"^replicas = 2 with n_particles = 4"):
        langevin.simulate(_mean_field_problem(), 4, 3, 0.05, replicas=2)
    monkeypatch.setattr(langevin, "memory_cap", lambda: None)
    assert langevin.simulate(_mean_field_problem(), 4, 3, 0.05, replicas=2).particles.shape == (2, 4, 2)


# -- alignment: OU coefficients only for t >= 0 --------------------------------------------

@pytest.mark.parametrize("t, error", [
    (-1.0, ValueError),                 # was: sigma_t^2 = -6.39
    ([0.0, 0.5, -2.0], ValueError),
    (float("nan"), ValueError),
    ("1.0", TypeError),                 # was: converted silently
    (None, TypeError),
])
def test_ou_coefficients_refuses_negative_or_non_numeric_times(t, error):
    from theorytk.alignment import ou_coefficients

    with pytest.raises(error, match=r"^t must"):
        ou_coefficients(t)


def test_ou_coefficients_keeps_the_shape_of_t():
    from theorytk.alignment import ou_coefficients

    m, var = ou_coefficients(0.0)
    assert np.ndim(m) == 0 and (m, var) == (1.0, 0.0)
    assert ou_coefficients([[0.1, 0.2]])[1].shape == (1, 2)


# -- metastable.exact: flags are bools, indices name their argument and range --------------

@pytest.fixture(scope="module")
def chain():
    from theorytk.metastable import cot_chain

    return cot_chain(3, 5, 0.1, seed=0, wrap=True)


@pytest.mark.parametrize("call, argument, error", [
    (lambda ex, c: ex.committor(c, 0, 14, backward="no"), "backward", TypeError),  # was: the backward committor
    (lambda ex, c: ex.committor(c, 0, 14, backward=1), "backward", TypeError),
    (lambda ex, c: ex.committor(c, 0, 14, backward=None), "backward", TypeError),
    (lambda ex, c: ex.quasi_stationary(c, 99), "cluster", ValueError),              # was: "k must be <= 2"
    (lambda ex, c: ex.quasi_stationary(c, -1), "cluster", ValueError),
    (lambda ex, c: ex.quasi_stationary(c, 1.5), "cluster", TypeError),
    (lambda ex, c: ex.committor(c, [[0, 1], [2]], 14), "A", ValueError),           # was: numpy's ragged message
    (lambda ex, c: ex.committor(c, [[0, 1], [2, 3]], 14), "A", ValueError),        # was: accepted (2-d)
    (lambda ex, c: ex.committor(c, 0, np.array([True, False])), "B", ValueError),  # mask of the wrong length
    (lambda ex, c: ex.hitting_times(c, [[1], [2, 3]]), "target", ValueError),
    (lambda ex, c: ex.potential_theory(c, 0, "14"), "B", TypeError),
    (lambda ex, c: ex.time_reversal(c, np.ones(3)), "pi", ValueError),             # was: a raw matmul message
    (lambda ex, c: ex.time_reversal(c, np.zeros(15)), "pi", ValueError),           # was: inf/nan kernel
    (lambda ex, c: ex.time_reversal(c, "x"), "pi", TypeError),
    (lambda ex, c: ex.HittingSolver(c, 14).second_moment(np.ones(3)), "mean", ValueError),  # was: IndexError
    (lambda ex, c: ex.HittingSolver(c, [13, 14]).absorption([[14], [13, 14]]), "part", ValueError),
])
def test_metastable_exact_refuses_bad_arguments_naming_them(chain, call, argument, error):
    from theorytk.metastable import exact

    with pytest.raises(error, match=rf"^{argument} "):
        call(exact, chain)


def test_quasi_stationary_names_the_value_and_the_range(chain):
    from theorytk.metastable import exact

    with pytest.raises(ValueError, match=r"^cluster must be a cluster label in \[0, 2\] .* got 99$"):
        exact.quasi_stationary(chain, 99)


def test_committor_bool_flags_still_work(chain):
    from theorytk.metastable import exact

    forward = exact.committor(chain, 0, 14, backward=np.False_)
    np.testing.assert_array_equal(forward, exact.committor(chain, 0, 14))
    assert exact.committor(chain, 0, 14, backward=True)[0] == 1.0


# -- alignment: the Doob sampler's divergence is caught -------------------------------------

def _doob(scheme="exponential", correction="exact", **options):
    from theorytk.alignment import DoobSampler, GaussianMixture, QuadraticPotential

    mix = GaussianMixture([0.3, 0.7], [[-2.0, 0.0], [2.0, 1.0]], [np.eye(2) * 0.5, [[1.0, 0.3], [0.3, 0.6]]])
    return DoobSampler(mix, QuadraticPotential([[0.2, 0.0], [0.0, 0.1]], [0.5, -0.3]), correction, scheme=scheme,
                       **options)


@pytest.mark.parametrize("method", ["sample", "sample_reference"])
@pytest.mark.parametrize("scheme, steps, horizon", [
    ("exponential", 1, 50.0),     # was: samples of size 1e22, no complaint
    ("euler", 10, 500.0),         # was: samples of size 2e17
    ("euler", 1, 1e22),
])
def test_doob_sampler_huge_step_is_sampler_diverged_with_the_step(method, scheme, steps, horizon):
    from theorytk.alignment import SamplerDiverged

    with pytest.raises(SamplerDiverged, match=rf"step.*of {steps}.*h = .* too large.*more steps"):
        getattr(_doob(scheme), method)(20, steps, horizon, seed=0)


@pytest.mark.parametrize("correction, options, steps, horizon, names", [
    ("exact", {}, 1, 1e22, "horizon / steps = 1e\\+22"),                        # was: overflow warnings, then nan
    ("nested", {"inner_steps": 1}, 10, 1e3, "horizon / inner_steps = 1000")])
def test_doob_sampler_step_whose_coefficients_overflow_is_refused(correction, options, steps, horizon, names):
    with pytest.raises(ValueError, match=rf"^{names} is too large a step"):
        _doob("exponential", correction, mc_samples=2, **options).sample(5, steps, horizon)


def test_doob_sampler_divergence_threshold():
    from theorytk.alignment import SamplerDiverged

    x = _doob().sample(50, 20, 3.0, seed=1)
    with pytest.raises(SamplerDiverged, match="beyond divergence_threshold = 0.5"):
        _doob().sample(50, 20, 3.0, seed=1, divergence_threshold=0.5)
    with pytest.raises(ValueError, match="^divergence_threshold must be > 0"):
        _doob().sample(50, 20, 3.0, seed=1, divergence_threshold=0.0)
    np.testing.assert_array_equal(x, _doob().sample(50, 20, 3.0, seed=1, divergence_threshold=1e3))


# -- contrastive.minimise: flags are bools, an overflowing step is a divergence ------------

@pytest.mark.parametrize("symmetric", ["no", 1, None])
def test_contrastive_minimise_symmetric_must_be_a_bool(symmetric):
    """Was read by truthiness: "no" ran the symmetric loss."""
    from theorytk.contrastive import all_batches, minimise

    with pytest.raises(TypeError, match="^symmetric must be a bool"):
        minimise(4, 3, all_batches(4, 2), symmetric=symmetric)


@pytest.mark.parametrize("lr", [1e200, 1e300])
def test_contrastive_minimise_overflowing_step_is_a_divergence(lr):
    """Was: zero rows with gradient norm 0, reported as converged after one step."""
    from theorytk.contrastive import all_batches
    from theorytk.contrastive.minimise import MinimiserDiverged, minimise
    from theorytk.errors import SolverFailure

    with pytest.raises(MinimiserDiverged, match=r"restart 0 diverged by step 1: .* lower lr") as caught:
        minimise(4, 3, all_batches(4, 2), lr=lr, max_steps=200, restarts=2)
    assert isinstance(caught.value, SolverFailure)


# -- icl.train: a diverging training is TrainingDiverged with the step ----------------------

@pytest.mark.parametrize("optimizer, lr, steps, pattern", [
    ("adam", 1e8, 20, r"loss blew up at step 1 \(loss 1\.\d+e\+33"),   # was: loss 1e31 returned silently
    ("adam", 1e2, 20, r"loss blew up at step 1 "),
    ("adam", 1e300, 1, r"last update \(step 0\) made an entry of V or W"),  # was: V = 1e300 returned
    ("gd", 1e8, 20, r"loss blew up at step 2 "),
])
def test_icl_train_divergence_names_the_step_and_lr(optimizer, lr, steps, pattern):
    from theorytk.errors import SolverFailure
    from theorytk.icl import LinearSelfAttention, TrainingDiverged, train

    with pytest.raises(TrainingDiverged, match=pattern + r".*lower lr") as caught:
        train(LinearSelfAttention(2), 8, 4, steps, 0, lr=lr, optimizer=optimizer)
    assert isinstance(caught.value, SolverFailure)


def test_icl_train_at_moderate_lr_is_not_a_divergence():
    from theorytk.icl import LinearSelfAttention, train

    result = train(LinearSelfAttention(2), 8, 4, 300, 0, lr=1.0)
    assert np.all(np.isfinite(result.losses))
