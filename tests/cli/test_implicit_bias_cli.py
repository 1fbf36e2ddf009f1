"""The implicit_bias validation from the command line: one quick run with its mutants, its artifacts, resume."""
import csv
import json

from tests.cli._runner import assert_every_mutant_rejected_and_no_claim_idle, quick_run_fixture, run_validation
from validations import __main__ as listing
from validations import implicit_bias

quick_run = quick_run_fixture("implicit_bias")


def test_quick_run_holds_and_writes_every_artifact(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", "norms_and_rate.png",
                 "direction.png"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader((out / "results.csv").open()))
    p = implicit_bias.protocol(quick=True)
    assert len(rows) == len(implicit_bias.configs(p)) * p["replicates"]


def test_every_mutant_is_rejected_and_every_claim_rejects_one_or_is_a_sanity_check(quick_run):
    _, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    assert_every_mutant_rejected_and_no_claim_idle(verdict, implicit_bias.MUTANTS)
    mutants = verdict["mutants"]
    frozen = [c for c, row in mutants["matrix"].items() if row["frozen_attention"] == "rejects"]
    assert any(name.startswith("log growth") for name in frozen)


def test_claims_come_from_the_theorems(quick_run):
    _, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    names = {c["theorem"]["name"] for c in verdict["claims"] if c["theorem"]}
    assert names == {t.name for t in implicit_bias.thm.THEOREMS}
    sanity = [c for c in verdict["claims"] if c["sanity_check"]]
    assert [c["name"] for c in sanity] == ["uniform attention: no linear readout separates the task"]


def test_resume_reuses_the_stored_runs(quick_run):
    _, out = quick_run
    before = (out / "results.csv").read_text()
    proc = run_validation("implicit_bias", "--quick", "--out", str(out), "--seed", "0", "--resume", "--no-plot",
                          "--no-mutants")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "verdict.json").read_text())["all_hold"]
    assert (out / "results.csv").read_text() == before


def test_listing_names_implicit_bias():
    assert "implicit_bias" in listing.available()
