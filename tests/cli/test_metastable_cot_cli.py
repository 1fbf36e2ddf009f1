"""The metastable_cot validation from the command line: quick mode, artifacts, exit codes."""
import csv
import json
import shutil

import pytest


from validations import __main__ as listing
from validations import metastable_cot
from tests.cli._runner import assert_every_mutant_rejected_and_no_claim_idle, quick_run_fixture, run_validation

PLOTS = ("eps_times_hitting_time", "mc_histogram", "boost", "eigenvalue_ladder", "finetuning", "search_recall",
         "local_search_recall")


def _cli(*args):
    return run_validation("metastable_cot", *args)


quick_run = quick_run_fixture("metastable_cot")


def test_quick_run_writes_every_artifact(quick_run):
    proc, out = quick_run
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", *(f"{p}.png" for p in PLOTS)):
        assert (out / name).is_file(), (name, proc.stdout, proc.stderr)


def test_quick_run_holds_and_rejects_every_mutant(quick_run):
    proc, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert verdict["all_hold"]
    assert_every_mutant_rejected_and_no_claim_idle(verdict, metastable_cot.MUTANTS)
    assert verdict["mutants"]["n_rejected"] == len(metastable_cot.MUTANTS)
    names = " ".join(claim["name"] for claim in verdict["claims"])
    for check in ("V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8", "L1", "L2", "L3", "L4", "PPO-Clip"):
        assert check in names
    for claim in verdict["claims"]:
        assert claim["sentence"] and isinstance(claim["holds"], bool)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """The quick run without mutants or plots (the store then holds the true model's runs only)."""
    out = tmp_path_factory.mktemp("metastable_cot_plain")
    return _cli("--quick", "--seed", "0", "--out", str(out), "--no-plot", "--no-mutants"), out


def test_without_mutants_the_claims_are_the_same(quick_run, plain_run):
    (_, quick), (proc, plain) = quick_run, plain_run
    assert proc.returncode == 0, proc.stderr
    with_mutants, without = (json.loads((out / "verdict.json").read_text()) for out in (quick, plain))
    assert without["mutants"] is None
    assert [(c["name"], c["numbers"]) for c in without["claims"]] == \
        [(c["name"], c["numbers"]) for c in with_mutants["claims"]]


def test_resume_reruns_nothing_and_agrees(plain_run, tmp_path):
    _, plain = plain_run
    out = tmp_path / "resumed"
    shutil.copytree(plain, out)
    first = json.loads((out / "verdict.json").read_text())
    proc = _cli("--quick", "--seed", "0", "--out", str(out), "--resume", "--no-plot", "--no-mutants")
    assert proc.returncode == 0, proc.stderr
    again = json.loads((out / "verdict.json").read_text())
    assert [(c["name"], c["holds"], c["numbers"]) for c in again["claims"]] == \
        [(c["name"], c["holds"], c["numbers"]) for c in first["claims"]]
    assert json.loads((out / "manifest.json").read_text())["seconds"] < \
        json.loads((plain / "manifest.json").read_text())["seconds"]


def test_csv_has_one_row_per_config(plain_run):
    _, out = plain_run
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == len(metastable_cot.configs(metastable_cot.protocol(quick=True)))
    families = {row["family"] for row in rows}
    assert families == {"exact", "mc", "boost", "search", "local", "finetune", "distill", "distill_learned",
                        "spectrum", "identities"}


def test_bad_seed_is_a_usage_error(tmp_path):
    proc = _cli("--quick", "--seed", "-1", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--seed" in proc.stderr


def test_listed():
    assert "metastable_cot" in listing.available()
