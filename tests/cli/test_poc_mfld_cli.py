"""The poc_mfld validation from the command line: quick mode, artifacts, exit codes, resume, executors."""
import csv
import json

import pytest

from validations import __main__ as listing
from validations import poc_mfld
from tests.cli._runner import assert_every_mutant_rejected_and_no_claim_idle, quick_run_fixture, run_validation



def _cli(*args):
    return run_validation("poc_mfld", *args)


quick_run = quick_run_fixture("poc_mfld")


@pytest.fixture(scope="module")
def true_model_run(tmp_path_factory):
    """``--quick --no-mutants``: the store of a run with mutants ends with the last mutant's runs."""
    out = tmp_path_factory.mktemp("poc_mfld_true")
    return _cli("--quick", "--out", str(out), "--seed", "0", "--no-plot", "--no-mutants"), out


def test_quick_run_writes_every_artifact(quick_run):
    proc, out = quick_run
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", "bound_vs_empirical.png",
                 "ensemble.png", "new_vs_old.png", "linear_gaussian.png"):
        assert (out / name).is_file(), (name, proc.stdout, proc.stderr)


def test_quick_run_holds_and_rejects_every_mutant(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["all_hold"] and verdict["n_claims"] >= 10
    for claim in verdict["claims"]:
        assert claim["sentence"] and isinstance(claim["holds"], bool)
    assert_every_mutant_rejected_and_no_claim_idle(verdict, poc_mfld.MUTANTS)
    for mutant in verdict["mutants"]["declared"]:
        assert mutant["rejected_by"] and mutant["error"] is None, mutant


def test_every_claim_has_a_theorem_or_a_sanity_label(quick_run):
    _, out = quick_run
    for claim in json.loads((out / "verdict.json").read_text())["claims"]:
        assert claim["theorem"] is not None or claim["sanity_check"], claim["name"]


def test_csv_is_tidy_one_row_per_config_and_replicate(true_model_run):
    proc, out = true_model_run
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((out / "results.csv").open()))
    p = poc_mfld.protocol(quick=True)
    assert "mutant" not in rows[0]
    keys = {(r["family"], r["lam"], r["N"], r["members"], r["eta"], r["replicate"]) for r in rows}
    assert len(keys) == len(rows)
    main_rows = [r for r in rows if r["family"] == "main"]
    assert len(main_rows) == len(p["lams"]) * len(p["widths"]) * p["replicates"]
    assert all(float(r["error"]) > 0 for r in rows if r["family"] != "transient")
    assert all(float(r["transient0"]) > 0 for r in rows if r["family"] == "transient")


def test_manifest_records_seed_and_versions(quick_run):
    _, out = quick_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 0
    assert manifest["versions"]["numpy"] and manifest["versions"]["theorytk"]


def test_resume_reuses_every_stored_run_and_gives_the_same_csv(true_model_run):
    _, out = true_model_run
    before = (out / "results.csv").read_text()
    proc = _cli("--quick", "--out", str(out), "--seed", "0", "--resume", "--no-plot", "--no-mutants")
    assert proc.returncode == 0, proc.stderr
    assert (out / "results.csv").read_text() == before
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["mutants"] is None and verdict["all_hold"]


def test_process_executor_gives_bit_identical_results(true_model_run, tmp_path):
    _, out = true_model_run
    proc = _cli("--quick", "--out", str(tmp_path), "--seed", "0", "--executor", "process", "--workers", "2",
                "--no-plot", "--no-mutants")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "results.csv").read_text() == (out / "results.csv").read_text()


@pytest.mark.parametrize("args", [["--seed", "-1"], ["--workers", "0", "--executor", "process"],
                                  ["--executor", "threads"], ["--no-such-flag"]])
def test_bad_usage_exits_2(args, tmp_path):
    proc = _cli("--quick", "--out", str(tmp_path), *args)
    assert proc.returncode == 2
    assert proc.stderr.strip()


def test_validations_listing_names_poc_mfld(capsys):
    assert "poc_mfld" in listing.available()
    assert listing.main(["--list"]) == 0
    assert "poc_mfld" in capsys.readouterr().out
