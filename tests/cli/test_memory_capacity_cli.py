"""The memory_capacity validation from the command line: quick mode with its mutants, artifacts, resume."""
import csv
import json

import pytest

from tests.cli._runner import assert_every_mutant_rejected_and_no_claim_idle, quick_run_fixture, run_validation
from validations import __main__ as listing
from validations import memory_capacity

quick_run = quick_run_fixture("memory_capacity")


def test_quick_run_holds_and_writes_every_artifact(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", "ess_per_split.png",
                 "copy_error_vs_state.png"):
        assert (out / name).is_file(), name


def test_every_declared_mutant_is_rejected_and_no_claim_is_idle(quick_run):
    _, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    assert_every_mutant_rejected_and_no_claim_idle(verdict, memory_capacity.MUTANTS)


def test_claims_come_from_the_theorems(quick_run):
    _, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    names = {c["theorem"]["name"] for c in verdict["claims"] if c["theorem"]}
    assert names == {t.name for t in memory_capacity.thm.THEOREMS} - {"copy_error_bound"}


def test_the_constructions_sit_on_the_bound_to_rounding(quick_run):
    _, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    for claim in verdict["claims"]:
        if claim["name"].startswith("COPY MSE of the"):
            assert claim["holds"] and claim["numbers"]["worst_diff"] <= 1e-13, claim["name"]


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("memory_capacity_plain")
    return run_validation("memory_capacity", "--quick", "--out", str(out), "--seed", "0", "--no-plot",
                          "--no-mutants"), out


def test_csv_has_one_row_per_run(plain_run):
    proc, out = plain_run
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((out / "results.csv").open()))
    p = memory_capacity.protocol(quick=True)
    assert len(rows) == len(memory_capacity.configs(p)) * p["replicates"]


def test_resume_reuses_the_stored_runs(plain_run):
    _, out = plain_run
    before = (out / "results.csv").read_text()
    proc = run_validation("memory_capacity", "--quick", "--out", str(out), "--seed", "0", "--resume", "--no-plot",
                          "--no-mutants")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "verdict.json").read_text())["all_hold"]
    assert (out / "results.csv").read_text() == before


def test_listing_names_memory_capacity():
    assert "memory_capacity" in listing.available()
