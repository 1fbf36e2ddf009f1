"""The contrastive_etf validation from the command line: quick mode with its mutants, artifacts, resume."""
import csv
import json

import pytest

from tests.cli._runner import assert_every_mutant_rejected_and_no_claim_idle, quick_run_fixture, run_validation
from validations import __main__ as listing
from validations import contrastive_etf

quick_run = quick_run_fixture("contrastive_etf")


def test_quick_run_holds_and_writes_every_artifact(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", "gram_all_vs_partition.png",
                 "loss_vs_step.png"):
        assert (out / name).is_file(), name


def test_every_declared_mutant_is_rejected(quick_run):
    _, out = quick_run
    assert_every_mutant_rejected_and_no_claim_idle(json.loads((out / "verdict.json").read_text()),
                                                   contrastive_etf.MUTANTS)


def test_claims_come_from_the_theorems(quick_run):
    _, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    names = {c["theorem"]["name"] for c in verdict["claims"] if c["theorem"]}
    assert names == {"etf_minibatch_loss", "etf_multiplier", "partition_batch_min", "partition_gap",
                     "cross_polytope_loss"}


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """The quick run without mutants (with mutants the store ends with the last mutant's sweep)."""
    out = tmp_path_factory.mktemp("contrastive_etf_plain")
    return run_validation("contrastive_etf", "--quick", "--out", str(out), "--seed", "0", "--no-plot",
                          "--no-mutants"), out


def test_csv_has_one_row_per_run(plain_run):
    proc, out = plain_run
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((out / "results.csv").open()))
    p = contrastive_etf.protocol(quick=True)
    assert len(rows) == len(contrastive_etf.configs(p)) * p["replicates"]
    assert len({(r["config_index"], r["replicate"]) for r in rows}) == len(rows)


def test_resume_reuses_the_stored_runs(plain_run):
    _, out = plain_run
    before = (out / "results.csv").read_text()
    proc = run_validation("contrastive_etf", "--quick", "--out", str(out), "--seed", "0", "--resume", "--no-plot",
                          "--no-mutants")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "verdict.json").read_text())["all_hold"]
    assert (out / "results.csv").read_text() == before


def test_listing_names_contrastive_etf():
    assert "contrastive_etf" in listing.available()
