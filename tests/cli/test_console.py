"""The ``theorytk`` console command, called in-process through ``validations._cli.main``."""
import json
import subprocess
import sys

import pytest

from tests.cli._runner import REPO
from tests.cli._synthetic import write_run
from validations import _cli
from validations.__main__ import available


def test_list_names_every_validation_and_its_theorems(capsys):
    assert _cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in available():
        assert f"\n{name}: " in "\n" + out
    assert "    prediction_stationary: " in out and "[derived here]" in out
    assert "paper: Nitanda, Improved particle approximation error" in out


def test_run_passes_the_exit_status_through(capsys):
    assert _cli.main(["run", "no_such_validation"]) == 2
    assert "NAME must be one of" in capsys.readouterr().err
    direct = subprocess.run([sys.executable, "-m", "validations.poc_mfld", "--seed", "-1"], cwd=REPO,
                            capture_output=True).returncode
    assert direct == 2
    assert _cli.main(["run", "poc_mfld", "--seed", "-1"]) == direct


def test_report_writes_one_page_for_every_run(tmp_path, capsys):
    write_run(tmp_path / "runs" / "a")
    write_run(tmp_path / "runs" / "deep" / "b", plots=1)
    assert _cli.main(["report", str(tmp_path / "runs")]) == 0
    page = (tmp_path / "runs" / "report.html").read_text()
    assert page.count("<tr class='pass'><td><a href='#run-a'>") == 4 + 1  # 4 claim rows + the overview
    assert page.count("href='#run-deep-b'>deep/b</a></td>") == 4 + 1  # 4 claim rows + the overview
    assert "report of 2 runs" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert _cli.main(["report", str(tmp_path / "empty")]) == 2
    assert _cli.main(["report", str(tmp_path / "missing")]) == 2


@pytest.fixture
def pair(tmp_path):
    a, b = write_run(tmp_path / "a"), write_run(tmp_path / "b")
    return a, b


def _edit(folder, name, **numbers):
    path = folder / "verdict.json"
    verdict = json.loads(path.read_text())
    claim = next(c for c in verdict["claims"] if c["name"] == name)
    claim["numbers"].update(numbers)
    if "holds" in numbers:
        claim["holds"] = numbers.pop("holds")
    path.write_text(json.dumps(verdict))
    return claim


def test_compare_identical_runs_exit_0(pair, capsys):
    assert _cli.main(["compare", str(pair[0]), str(pair[1])]) == 0
    assert "0 of 4 claims changed" in capsys.readouterr().out


def test_compare_flags_a_flip(pair, capsys):
    _edit(pair[1], "grid converged", holds=False)
    assert _cli.main(["compare", str(pair[0]), str(pair[1])]) == 1
    assert "flip    holds -> fails" in capsys.readouterr().out


def test_compare_margin_shrink_beyond_and_within_noise(pair, capsys):
    a = json.loads((pair[0] / "verdict.json").read_text())["claims"][0]["numbers"]
    se_slack = a["worst_se"] / a["worst_bound"]  # the UpperBound's slack SE; both runs share it
    combined = 2 ** 0.5 * se_slack
    _edit(pair[1], "E <= Vbar/N", worst_upper_ratio=a["worst_upper_ratio"] + 2.0 * combined)
    assert _cli.main(["compare", str(pair[0]), str(pair[1])]) == 0  # 2 SE < K = 3
    assert _cli.main(["compare", str(pair[0]), str(pair[1]), "--k", "1.5"]) == 1
    _edit(pair[1], "E <= Vbar/N", worst_upper_ratio=a["worst_upper_ratio"] + 4.0 * combined)
    capsys.readouterr()
    assert _cli.main(["compare", str(pair[0]), str(pair[1])]) == 1
    assert "shrank" in capsys.readouterr().out
    # a margin that grows (the claim got safer) is no regression
    _edit(pair[1], "E <= Vbar/N", worst_upper_ratio=a["worst_upper_ratio"] - 4.0 * combined)
    assert _cli.main(["compare", str(pair[0]), str(pair[1])]) == 0


def test_compare_rate_slack_uses_slope_se(pair):
    rate = json.loads((pair[0] / "verdict.json").read_text())["claims"][1]["numbers"]
    noise = 3 * 2 ** 0.5 * rate["slope_se"] / rate["tolerance"]
    shift = 1.2 * noise * rate["tolerance"]  # the slack's lower-edge term grows by 1.2 x the noise band
    _edit(pair[1], "E vs N", hi=rate["hi"] - shift, lo=rate["lo"] - shift)  # the lower edge moves out
    assert _cli.main(["compare", str(pair[0]), str(pair[1])]) == 1
    _edit(pair[1], "E vs N", hi=rate["hi"] - shift / 2, lo=rate["lo"] - shift / 2)  # 0.6 x the band: noise
    assert _cli.main(["compare", str(pair[0]), str(pair[1])]) == 0


def test_compare_missing_claim_and_bad_k(pair, capsys):
    verdict = json.loads((pair[1] / "verdict.json").read_text())
    verdict["claims"] = verdict["claims"][1:]
    (pair[1] / "verdict.json").write_text(json.dumps(verdict))
    assert _cli.main(["compare", str(pair[0]), str(pair[1])]) == 1
    assert "missing" in capsys.readouterr().out
    assert _cli.main(["compare", str(pair[0]), str(pair[1]), "--k", "-1"]) == 2
    assert _cli.main(["compare", str(pair[0]), str(pair[1]), "--k", "nan"]) == 2


def test_cite_from_proofs_module(capsys):
    assert _cli.main(["cite", "poc_mfld"]) == 0
    bib = capsys.readouterr().out
    assert "@misc{nitanda2024," in bib and "eprint = {2405.15767}" in bib and "archivePrefix = {arXiv}" in bib
    assert "title = {Propagation of chaos for mean-field Langevin dynamics and its application to model ensemble}" in bib
    assert "% derived here (no citation): " in bib and "prediction_stationary" in bib
    assert bib.count("@misc{") == len(set(bib.split("@misc{")[1:]))  # keys unique


def test_cite_from_a_run_uses_only_its_theorems(tmp_path, capsys):
    folder = write_run(tmp_path / "run")
    assert _cli.main(["cite", str(folder)]) == 0
    assert capsys.readouterr().out.strip() == "% derived here (no citation): prediction_stationary"
    assert _cli.main(["cite", "nonsense"]) == 2


def test_parse_reference():
    ref = _cli.parse_reference("Sznitman, Topics in propagation of chaos, Ecole d'ete de Saint-Flour XIX (1991), Thm 1.4")
    assert ref["authors"] == ["Sznitman"] and ref["title"] == "Topics in propagation of chaos"
    assert ref["year"] == "1991" and ref["arxiv"] == ""
    ref = _cli.parse_reference("Chen, Ren, Wang 2022 (arXiv 2212.03050)")
    assert ref == {"authors": ["Chen", "Ren", "Wang"], "title": "", "venue": "", "year": "2022",
                   "arxiv": "2212.03050"}
    ref = _cli.parse_reference("Simon & Ando, Aggregation of variables in dynamic systems, Econometrica 29 (1961)")
    assert ref["authors"] == ["Simon", "Ando"] and ref["title"].startswith("Aggregation")


def test_usage_errors():
    assert _cli.main([]) == 2
    assert _cli.main(["frobnicate"]) == 2
    assert _cli.main(["--help"]) == 0
