"""The summary page: a row per claim, every plot inlined, the matrix and manifest, crashes shown; in a real browser too."""
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.cli._synthetic import write_run
from validations import _report
from validations.__main__ import collect


class _Page(HTMLParser):
    """Collects the claims table's rows, every img src, the ids and every external resource."""

    def __init__(self):
        super().__init__()
        self.rows, self.images, self.ids, self.external, self._in_claims, self._row = [], [], set(), [], False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "table":
            self._in_claims = attrs.get("id") == "claims"
        if tag == "tr" and self._in_claims:
            self._row = []
        if tag == "td" and self._row is not None:
            self._row.append({"text": "", "links": []})
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag in ("script", "link") and (attrs.get("src") or attrs.get("href")):
            self.external.append(attrs)
        if tag == "a" and self._row and attrs.get("href", "").startswith("#"):
            self._row[-1]["links"].append(attrs["href"][1:])

    def handle_data(self, data):
        if self._row:
            self._row[-1]["text"] += data

    def handle_endtag(self, tag):
        if tag == "tr" and self._row:
            self.rows.append(self._row)
        if tag == "tr":
            self._row = None
        if tag == "table":
            self._in_claims = False


@pytest.fixture
def runs_dir(tmp_path):
    write_run(tmp_path / "a" / "one", plots=2)
    write_run(tmp_path / "b", scale=1.2, mutants=False, plots=1, sha="def5678")
    return tmp_path


def _parse(page):
    parser = _Page()
    parser.feed(page.read_text())
    return parser


def test_page_has_a_row_per_claim_and_every_image_inlined(runs_dir):
    runs = _report.find_runs(runs_dir)
    assert [r.label for r in runs] == ["a/one", "b"]
    page = _parse(_report.write(runs_dir / "report.html", runs))
    claims = [(r.label, c) for r in runs for c in r.verdict["claims"]]
    assert len(page.rows) == len(claims) == 8
    for row, (label, claim) in zip(page.rows, claims):
        cells = [c["text"] for c in row]
        assert cells[0] == label and claim["name"] in cells[1]
        assert cells[-1] == ("holds" if claim["holds"] else "FAILS")
        links = [link for c in row for link in c["links"]]
        assert all(link in page.ids for link in links), links  # claim -> details, run, plots
        assert any(link.endswith("-plots") for link in links)
    # the failing Agreement of run b (scale 1.2) shows as FAILS, its theorem cells say what they are
    texts = [[c["text"] for c in row] for row in page.rows]
    assert sum(r[-1] == "FAILS" for r in texts) == 1
    assert any("prediction_stationary" in r[2] and "derived here" in r[3] for r in texts)
    assert any("sanity check: time discretisation is small" in r[2] for r in texts)
    assert len(page.images) == 3 and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert page.external == []


def test_page_shows_matrix_manifest_and_idle_claims(runs_dir):
    text = _report.render(_report.find_runs(runs_dir))
    assert "1 of 2 mutants rejected" in text and "the error doubled (a wrong constant)" in text
    assert "<tr class='idle'><td>E vs N</td>" in text  # the Rate rejects no mutant and is no sanity check
    assert "<td class='rejects'>rejects</td>" in text
    assert "abc1234" in text and "def5678" in text and "numpy" in text
    assert "no planted wrong models in this run" in text


def test_crashed_run_is_shown(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    run = collect(folder, "broken", 3, "Traceback (most recent call last):\nLinAlgError: singular", started=0.0)
    assert run.crash["returncode"] == 3
    text = _report.render([run, *_report.find_runs(write_run(tmp_path / "fine").parent)])
    assert "CRASHED (exit 3)" in text and "LinAlgError: singular" in text


def test_stale_verdict_counts_as_crash(tmp_path):
    folder = write_run(tmp_path / "old")
    run = collect(folder, "old", 0, "", started=(folder / "verdict.json").stat().st_mtime + 10)
    assert run.crash is not None and "no fresh verdict.json" in run.crash["message"]


def test_find_runs_refuses_a_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="root must be an existing folder"):
        _report.find_runs(tmp_path / "nope")


_PROBE = """<script>window.__errors=[];
window.addEventListener('error',function(e){__errors.push(String(e.message||(e.target&&e.target.src)||'error'));},true);
(function(){var ce=console.error;console.error=function(){__errors.push(Array.prototype.join.call(arguments,' '));
ce.apply(console,arguments);};})();
window.addEventListener('load',function(){var r={};try{var imgs=document.images,bad=[];
for(var i=0;i<imgs.length;i++){if(!(imgs[i].complete&&imgs[i].naturalWidth>0))bad.push(imgs[i].alt);}
var t=document.getElementById('claims');var first=t.tBodies[0].rows[0].cells[1].textContent;
sortTable(t.tHead.rows[0].cells[1]);sortTable(t.tHead.rows[0].cells[1]);
r={images:imgs.length,bad:bad,rows:t.tBodies[0].rows.length,width:t.getBoundingClientRect().width,
height:t.getBoundingClientRect().height,sorted_first:t.tBodies[0].rows[0].cells[1].textContent,first:first};}
catch(e){__errors.push(String(e));}r.errors=__errors;var p=document.createElement('pre');p.id='probe';
p.textContent=JSON.stringify(r);document.body.appendChild(p);});</script>"""


def _chromium():
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")
                 if shutil.which(n)), None)


@pytest.mark.browser
def test_page_renders_in_headless_chromium(runs_dir):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary on PATH (chromium, chromium-browser, google-chrome): install one to run")
    page = _report.write(runs_dir / "report.html", _report.find_runs(runs_dir))
    probed = runs_dir / "probed.html"
    probed.write_text(page.read_text().replace("<head>", "<head>" + _PROBE, 1))
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                           "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120)
    dom = done.stdout
    start = dom.index('<pre id="probe">') + len('<pre id="probe">')
    probe = json.loads(_unescape(dom[start:dom.index("</pre>", start)]))
    assert probe["errors"] == []
    assert probe["rows"] == 8 and probe["width"] > 0 and probe["height"] > 0
    assert probe["images"] == 3 and probe["bad"] == []
    assert probe["sorted_first"].strip() != "" and "claim" not in probe["sorted_first"]


def _unescape(text):
    from html import unescape

    return unescape(text)


def test_real_quick_run_renders(tmp_path):
    """One real run: poc_mfld --quick --no-mutants, reported through find_runs; every claim and plot appears."""
    out = tmp_path / "poc_mfld"
    done = subprocess.run(["python", "-m", "validations.poc_mfld", "--quick", "--no-mutants", "--out", str(out)],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = _report.find_runs(tmp_path)
    page = _parse(_report.write(tmp_path / "report.html", runs))
    assert len(page.rows) == len(runs[0].verdict["claims"]) > 0
    assert len(page.images) == len(list(out.glob("*.png"))) > 0


def test_python_m_validations_goes_on_after_a_crash(tmp_path, monkeypatch, capsys):
    """``python -m validations``: the first validation crashes (exit 3), the second still runs, the summary shows both."""
    import validations.__main__ as entry

    ran = []

    def fake_run_one(name, flags):
        ran.append(name)
        if name == "crashes":
            return 3, "Traceback (most recent call last):\nSimulationDiverged: step 12"
        write_run(Path(flags[flags.index("--out") + 1]))
        return 0, ""

    monkeypatch.setattr(entry, "available", lambda: ["crashes", "fine"])
    monkeypatch.setattr(entry, "run_one", fake_run_one)
    assert entry.main(["--out", str(tmp_path)]) == entry.EXIT_CRASHED
    assert ran == ["crashes", "fine"]
    page = _parse(tmp_path / "summary.html")
    assert len(page.rows) == 4 and len(page.images) == 2
    text = (tmp_path / "summary.html").read_text()
    assert "CRASHED (exit 3)" in text and "SimulationDiverged: step 12" in text
    assert "crashed: crashes" in capsys.readouterr().err
