"""The reversal_curse validation from the command line: quick mode with its mutants and artifacts."""
import json

from tests.cli._runner import assert_every_mutant_rejected_and_no_claim_idle, quick_run_fixture
from validations import __main__ as listing
from validations import reversal_curse

quick_run = quick_run_fixture("reversal_curse")


def test_quick_run_holds_and_writes_every_artifact(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", "reverse_vs_d.png",
                 "loss_curves.png"):
        assert (out / name).is_file(), name


def test_every_declared_mutant_is_rejected_and_no_claim_is_idle(quick_run):
    _, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    assert_every_mutant_rejected_and_no_claim_idle(verdict, reversal_curse.MUTANTS)


def test_claims_come_from_the_theorems(quick_run):
    _, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    names = {c["theorem"]["name"] for c in verdict["claims"] if c["theorem"]}
    # the paper's own bound has an unknown epsilon: it is stated, and checked through reverse_exponent_bound
    assert names == {t.name for t in reversal_curse.thm.THEOREMS} - {"reverse_loss_bound"}


def test_the_one_hot_claims_are_exact_to_rounding(quick_run):
    _, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    for claim in verdict["claims"]:
        if claim["name"].startswith("one-hot") and claim["kind"] == "Agreement":
            assert claim["holds"] and claim["numbers"]["worst_diff"] <= 1e-14, claim["name"]


def test_listing_names_reversal_curse():
    assert "reversal_curse" in listing.available()
