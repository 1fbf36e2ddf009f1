"""The doob_alignment validation from the command line: quick mode, artifacts, exit codes."""
import csv
import json

import pytest

from validations import __main__ as listing
from validations import doob_alignment
from tests.cli._runner import assert_every_mutant_rejected_and_no_claim_idle, quick_run_fixture, run_validation

PLOTS = ("p1_bound.png", "p1_score_error.png", "p2_modes.png", "mc_rate.png", "dual_averaging.png")


def _cli(*args):
    return run_validation("doob_alignment", *args)


quick_run = quick_run_fixture("doob_alignment")


def test_quick_run_writes_every_artifact(quick_run):
    proc, out = quick_run
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", *PLOTS):
        assert (out / name).is_file(), (name, proc.stdout, proc.stderr)


def test_quick_run_holds_and_rejects_every_mutant(quick_run):
    proc, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert verdict["all_hold"] and verdict["n_claims"] >= 20
    assert all(claim["sentence"] and isinstance(claim["holds"], bool) for claim in verdict["claims"])
    assert_every_mutant_rejected_and_no_claim_idle(verdict, doob_alignment.MUTANTS)
    for mutant in verdict["mutants"]["declared"]:
        assert mutant["error"] is None and mutant["rejected_by"], mutant


def test_csv_has_one_row_per_config(quick_run):
    _, out = quick_run
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == len(doob_alignment.configs(doob_alignment.protocol(quick=True)))
    assert {row["family"] for row in rows} == {"p1", "p1_mc", "p2", "mc_rate", "da", "dpo"}


def test_resume_gives_the_same_csv(quick_run):
    _, out = quick_run
    before = (out / "results.csv").read_text()
    proc = _cli("--quick", "--out", str(out), "--seed", "0", "--resume", "--no-plot", "--no-mutants")
    assert proc.returncode == 0, proc.stderr
    assert (out / "results.csv").read_text() == before
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["mutants"] is None and verdict["all_hold"]


@pytest.mark.parametrize("args", [["--seed", "-1"], ["--executor", "threads"], ["--no-such-flag"]])
def test_bad_usage_exits_2(args, tmp_path):
    proc = _cli("--quick", "--out", str(tmp_path), *args)
    assert proc.returncode == 2 and proc.stderr.strip()


def test_listing_names_doob_alignment():
    assert "doob_alignment" in listing.available()
