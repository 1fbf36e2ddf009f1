"""The harness runs each declared mutant in a store of its own and writes the discrimination matrix."""
import csv
import json

from tests.unit import _mutant_validation as mini


def test_mutants_are_judged_and_stored_apart(tmp_path):
    out = tmp_path / "o"
    assert mini.main(["--out", str(out), "--no-plot"]) == 0
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["all_hold"] and verdict["mutants"]["all_rejected"]
    assert verdict["mutants"]["matrix"] == {"mean is 0": {"biased": "rejects"}}
    truth = list(csv.DictReader((out / "results.csv").open()))
    planted = list(csv.DictReader((out / "mutants" / "biased" / "results.csv").open()))
    assert len(truth) == len(planted) == 8
    assert all("mutant" not in row or not row["mutant"] for row in truth)
    assert all(row["mutant"] == "biased" for row in planted)
    # resume reuses every store, the true one and the mutant's, and gives the same verdict
    assert mini.main(["--out", str(out), "--no-plot", "--resume"]) == 0
    assert json.loads((out / "verdict.json").read_text())["mutants"] == verdict["mutants"]
    assert list(csv.DictReader((out / "results.csv").open())) == truth


def test_no_mutants_flag_skips_them(tmp_path):
    assert mini.main(["--out", str(tmp_path), "--no-plot", "--no-mutants"]) == 0
    assert json.loads((tmp_path / "verdict.json").read_text())["mutants"] is None
    assert not (tmp_path / "mutants").exists()


def test_a_solver_failure_or_crash_exits_3_with_its_traceback(tmp_path, monkeypatch, capsys):
    from theorytk.mfld.langevin import SimulationDiverged

    def diverge(config, seed):
        raise SimulationDiverged("diverged at step 7; hint: smaller eta")

    monkeypatch.setattr(mini, "run_config", diverge)
    assert mini.main(["--out", str(tmp_path), "--no-plot"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "a solver failed" in err and "step 7" in err
    monkeypatch.setattr(mini, "run_config", lambda config, seed: 1 / 0)
    assert mini.main(["--out", str(tmp_path), "--no-plot"]) == 3
    assert "the run crashed (ZeroDivisionError" in capsys.readouterr().err
