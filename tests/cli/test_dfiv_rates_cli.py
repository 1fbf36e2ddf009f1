"""The dfiv_rates validation from the command line: quick mode, its pinned verdict and mutants, artifacts, bad usage.

The quick run's verdict is pinned (CI fails when it flips): every claim holds except the
adaptivity Rate, a finding (gradient-trained DFIV on the jump falls at slope ~ -0.17, not the
adaptive -0.4 of Kim et al.'s exact-ERM bound, measured 2026-12-03); every mutant is rejected
except ``small_sieve`` (at N <= 4000 DFIV's risk on the jump is that of a J = 2 Fourier sieve,
so no claim separates them at this size).
"""
import json

from tests.cli._runner import quick_run_fixture, run_validation
from validations import dfiv_rates

FAILING = ("adaptivity: DFIV (validation-tuned) L2 risk vs N, jump",)
UNREJECTED = ["small_sieve"]


def _cli(*args):
    return run_validation("dfiv_rates", *args)


quick_run = quick_run_fixture("dfiv_rates")


def test_quick_run_writes_every_artifact(quick_run):
    proc, out = quick_run
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", "exploratory.json", "risk_vs_n.png",
                 "stage1.png"):
        assert (out / name).is_file(), (name, proc.stdout, proc.stderr)


def test_the_verdict_is_the_pinned_one(quick_run):
    proc, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    failing = [c["name"] for c in verdict["claims"] if not c["holds"]]
    assert proc.returncode == 1 and not verdict["all_hold"], proc.stdout[-3000:] + proc.stderr[-3000:]
    assert len(failing) == len(FAILING) and all(f.startswith(p) for f, p in zip(failing, FAILING)), failing
    assert verdict["n_claims"] == 17
    for claim in verdict["claims"]:
        assert claim["sentence"] and "holds" in claim


def test_mutants_are_rejected_but_the_small_sieve(quick_run):
    _, out = quick_run
    mutants = json.loads((out / "verdict.json").read_text())["mutants"]
    assert len(mutants["declared"]) == len(dfiv_rates.MUTANTS) == 4
    assert mutants["unrejected"] == UNREJECTED
    for claim, row in mutants["matrix"].items():
        if claim.startswith("stage-1 requirement"):
            assert row["stage1_starved"] == "rejects"
        if claim.startswith("adaptivity control"):
            assert row["no_stage1"] == "rejects"


def test_claims_come_from_the_theorems(quick_run):
    _, out = quick_run
    claims = json.loads((out / "verdict.json").read_text())["claims"]
    names = {c["theorem"]["name"] for c in claims if c["theorem"]}
    assert {"l2_risk_exponent", "fixed_feature_l2_exponent", "projected_risk_exponent", "stage1_samples_dfiv",
            "spectral_cutoff_proxy_risk"} <= names
    (adaptive,) = [c for c in claims if c["name"].startswith(FAILING[0])]
    assert adaptive["numbers"]["expected"] == -float(dfiv_rates.thm.L2_RISK.evaluate(s=1, r=1, d=1))


def test_exploratory_record_has_the_adaptivity_intervals(quick_run):
    _, out = quick_run
    explore = json.loads((out / "exploratory.json").read_text())
    for key in ("r=1", "r=0"):
        lo, hi = explore["adaptivity"][key]["ci95"]
        assert lo <= explore["adaptivity"][key]["dfiv_minus_sieve_slope"] <= hi


def test_gate_one_is_against_the_proxy_and_records_the_asymptotic_band(quick_run):
    _, out = quick_run
    claims = {c["name"]: c for c in json.loads((out / "verdict.json").read_text())["claims"]}
    explore = json.loads((out / "exploratory.json").read_text())["sieve_proxy"]
    for target in ("jump", "kink"):
        (rate,) = [c for name, c in claims.items() if name.startswith(f"oracle sieve L2 risk vs N, {target}")]
        (limit,) = [c for name, c in claims.items() if name.startswith(f"oracle sieve L2 risk proxy, {target}")]
        assert rate["kind"] == "Rate" and rate["numbers"]["expected"] == explore[target]["proxy_slope"]
        numbers = limit["numbers"]
        assert numbers["measured_slope_swept_N"] == [rate["numbers"]["slope"], rate["numbers"]["lo"],
                                                     rate["numbers"]["hi"]]
        low, high = numbers["asymptotic_band"]
        inside = low <= rate["numbers"]["lo"] and rate["numbers"]["hi"] <= high
        recorded = explore[target]["measured_inside_asymptotic_band"]
        assert numbers["measured_inside_asymptotic_band"] == inside == recorded
        assert len(explore[target]["proxy"]) == len(explore[target]["N"]) == len(explore[target]["measured_mean"])


def test_bad_usage_exits_2(tmp_path):
    proc = _cli("--quick", "--seed", "-3", "--out", str(tmp_path))
    assert proc.returncode == 2 and "seed" in proc.stderr
