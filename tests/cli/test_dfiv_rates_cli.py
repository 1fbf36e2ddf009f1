"""The dfiv_rates validation from the command line: quick mode, artifacts, exit codes, bad usage."""
import json

from tests.cli._runner import quick_run_fixture, run_validation



def _cli(*args):
    return run_validation("dfiv_rates", *args)


quick_run = quick_run_fixture("dfiv_rates")


def test_quick_run_writes_every_artifact(quick_run):
    proc, out = quick_run
    for name in ("results.sqlite", "results.csv", "verdict.json", "manifest.json", "exploratory.json", "risk_vs_n.png",
                 "stage1.png"):
        assert (out / name).is_file(), (name, proc.stdout, proc.stderr)


def test_exit_status_matches_the_verdict(quick_run):
    proc, out = quick_run
    verdict = json.loads((out / "verdict.json").read_text())
    assert proc.returncode == (0 if verdict["all_hold"] else 1), proc.stderr
    names = [c["name"] for c in verdict["claims"]]
    assert any("oracle sieve L2 risk" in n for n in names) and any("regression control" in n for n in names)
    for claim in verdict["claims"]:
        assert claim["sentence"] and "holds" in claim


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
