"""The reversal_curse validation from the command line: quick mode with its mutants and artifacts."""
import json
import time

import pytest

from tests.cli._runner import run_validation
from validations import __main__ as listing
from validations import reversal_curse


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reversal_curse")
    started = time.perf_counter()
    proc = run_validation("reversal_curse", "--quick", "--out", str(out), "--seed", "0")
    return proc, out, time.perf_counter() - started


def test_quick_run_holds_and_writes_every_artifact(quick_run):
    proc, out, seconds = quick_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", "reverse_vs_d.png",
                 "loss_curves.png"):
        assert (out / name).is_file(), name
    assert seconds < 60


def test_every_declared_mutant_is_rejected_and_no_claim_is_idle(quick_run):
    _, out, _ = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    mutants = verdict["mutants"]
    assert len(mutants["declared"]) == len(reversal_curse.MUTANTS)
    assert mutants["all_rejected"] and mutants["unrejected"] == [] and mutants["idle_claims"] == []
    for claim in verdict["claims"]:
        if claim["sanity_check"] is None:
            assert "rejects" in mutants["matrix"][claim["name"]].values(), claim["name"]


def test_claims_come_from_the_theorems(quick_run):
    _, out, _ = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    names = {c["theorem"]["name"] for c in verdict["claims"] if c["theorem"]}
    # the paper's own bound has an unknown epsilon: it is stated, and checked through reverse_exponent_bound
    assert names == {t.name for t in reversal_curse.thm.THEOREMS} - {"reverse_loss_bound"}


def test_the_one_hot_claims_are_exact_to_rounding(quick_run):
    _, out, _ = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    for claim in verdict["claims"]:
        if claim["name"].startswith("one-hot") and claim["kind"] == "Agreement":
            assert claim["holds"] and claim["numbers"]["worst_diff"] <= 1e-14, claim["name"]


def test_listing_names_reversal_curse():
    assert "reversal_curse" in listing.available()
