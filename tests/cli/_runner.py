"""Running a validation as a user would: ``python -m validations.<name>`` in a subprocess."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_validation(name, *args, cwd=REPO):
    """Run ``python -m validations.<name> *args`` from the repository root; return the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", f"validations.{name}", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def quick_run_fixture(name):
    """A module-scoped fixture running ``--quick --seed 0`` once into a temporary folder: ``(process, out)``."""
    @pytest.fixture(scope="module")
    def quick_run(tmp_path_factory):
        out = tmp_path_factory.mktemp(name)
        return run_validation(name, "--quick", "--out", str(out), "--seed", "0"), out

    return quick_run


def assert_every_mutant_rejected_and_no_claim_idle(verdict, mutants):
    """Issue 12's targets on a ``verdict.json``: each of ``mutants`` is rejected by some claim, and every claim rejects
    one or is labelled a sanity check."""
    record = verdict["mutants"]
    assert sorted(m["name"] for m in record["declared"]) == sorted(m.name for m in mutants)
    assert record["all_rejected"] and record["unrejected"] == [] and record["idle_claims"] == [], record
    for claim in verdict["claims"]:
        if claim["sanity_check"] is None:
            assert "rejects" in record["matrix"][claim["name"]].values(), claim["name"]
