"""The icl_cot validation from the command line: quick mode with its mutants, artifacts, claims from theorems."""
import json

from tests.cli._runner import quick_run_fixture
from validations import icl_cot

quick_run = quick_run_fixture("icl_cot")


def test_quick_run_holds_and_writes_every_artifact(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", "error_vs_k.png",
                 "learned_V_W.png", "newton_schulz_residual.png", "looped_error_vs_K.png"):
        assert (out / name).is_file(), name


def test_every_declared_mutant_is_rejected(quick_run):
    _, out = quick_run
    mutants = json.loads((out / "verdict.json").read_text())["mutants"]
    declared = {m["name"] for m in mutants["declared"]}
    assert declared == {m.name for m in icl_cot.MUTANTS}
    assert {"n_below_d", "cot_length_1", "rollout_fed_target", "wrong_wishart_moment", "looped_every_loop",
            "ood_training_covariance", "mp_ratio_swapped"} <= declared
    assert mutants["all_rejected"] and mutants["unrejected"] == []
    assert mutants["idle_claims"] == []


def test_claims_come_from_the_theorems(quick_run):
    _, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    assert all(c["theorem"] for c in verdict["claims"])
    names = {c["theorem"]["name"] for c in verdict["claims"]}
    assert {"no_cot_floor", "cot_error_k1", "cot_error_k2", "cot_fixed_point", "wishart_moment_4",
            "underdetermined_plateau", "newton_schulz_residual", "newton_schulz_iterations", "looped_one_step",
            "looped_equation_K2", "looped_polynomial_K2", "no_cot_error_general", "no_cot_floor_general",
            "cot_error_mp_gap_k1", "cot_error_mp_gap_k2"} <= names
    kinds = {c["kind"] for c in verdict["claims"]}
    assert "Rate" in kinds      # the Marchenko-Pastur gap rate, derived by sympy
