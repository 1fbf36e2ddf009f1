"""The planted wrong models of validations.poc_mfld change what they say and nothing else."""
import numpy as np
import pytest

from theorytk.mfld import simulate_ensemble
from validations import poc_mfld

BASE = dict(family="main", lam=0.05, N=4, members=1, eta=poc_mfld.ETA, activation="tanh")


@pytest.mark.parametrize("mutant,lam,lam_l2,eta", [
    (None, 0.05, poc_mfld.LAM_L2, poc_mfld.ETA),
    ("temperature", 0.05 * poc_mfld.TEMPERATURE_FACTOR, poc_mfld.LAM_L2, poc_mfld.ETA),
    ("fixed_noise", poc_mfld.FIXED_NOISE_LAM, poc_mfld.LAM_L2, poc_mfld.ETA),
    ("l2_gradient", 0.05, poc_mfld.LAM_L2 * poc_mfld.L2_FACTOR, poc_mfld.ETA),
    ("eta_large", 0.05, poc_mfld.LAM_L2, poc_mfld.ETA * poc_mfld.ETA_FACTOR),
    ("no_interaction", 0.05, poc_mfld.LAM_L2, poc_mfld.ETA),
    ("wrong_reference", 0.05, poc_mfld.LAM_L2, poc_mfld.ETA),
])
def test_dynamics_changes_only_the_planted_parameter(mutant, lam, lam_l2, eta):
    config = dict(BASE, **({} if mutant is None else {"mutant": mutant}))
    prob, step = poc_mfld.dynamics(config)
    assert (prob.lam, prob.lam_l2, step) == (lam, lam_l2, eta)
    assert np.array_equal(prob.y, poc_mfld.problem(0.05).y)


def test_no_interaction_averages_independent_width_one_networks():
    config = dict(BASE, mutant="no_interaction")
    prob, eta = poc_mfld.dynamics(config)
    got = poc_mfld.network_outputs(config, prob, 4, 2, steps=5, eta=eta, seed=3, replicas=2)
    want = simulate_ensemble(prob, 1, 8, steps=5, eta=eta, seed=3, record_every=1, replicas=2).outputs
    np.testing.assert_array_equal(got, want)
    interacting = poc_mfld.network_outputs(BASE, prob, 4, 2, steps=5, eta=eta, seed=3, replicas=2)
    assert not np.allclose(got[:, 1:], interacting[:, 1:])


def test_wrong_reference_moves_f_star_but_not_the_true_reference():
    true, _ = poc_mfld.references((0.05,), (81, 101))
    wrong, _ = poc_mfld.references((0.05,), (81, 101), mutant="wrong_reference")
    assert np.max(np.abs(true[0.05].f_star - wrong[0.05].f_star)) > 1e-3
    again, _ = poc_mfld.references((0.05,), (81, 101), mutant="temperature")
    np.testing.assert_array_equal(again[0.05].f_star, true[0.05].f_star)
