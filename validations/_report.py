"""The summary page: one self-contained HTML file for every validation run under a folder.

A *run* is any folder holding a ``verdict.json`` (written by :mod:`validations._harness`);
its ``manifest.json`` and PNG plots are read when present. A validation that crashed is a
:class:`Run` with ``crash`` set (exit status and the end of its stderr) and no verdict.

The page (:func:`render`) has, offline and with no external resource (CSS and a small
sorting script inline, every PNG inlined as a base64 ``data:`` URI):

* an overview (per run: claims holding, mutants rejected, seconds, or the crash);
* one table of every claim across runs (validation, theorem and paper, confidence, kind,
  measured, bound or expected, margin, verdict), sortable by clicking a column header; each
  claim links to its details and to its run's plots;
* per run: the manifest (versions, git sha and dirty flag and code hash where recorded,
  seed, time), each claim's theorem (statement, source, confidence) or its sanity-check
  reason or "no theorem", the discrimination matrix claim x mutant with the mutants'
  descriptions and counts (idle claims, those that reject no mutant and are not sanity
  checks, highlighted), and the plots.

:func:`claim_cells` is also what ``theorytk compare`` prints, so the page and the console
read a claim the same way.
"""
import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Run", "claim_cells", "find_runs", "load_run", "render", "write"]


@dataclass
class Run:
    """One validation run: where it is, what it wrote, or how it crashed."""

    label: str
    folder: Path
    verdict: dict | None = None
    manifest: dict = field(default_factory=dict)
    plots: tuple = ()
    crash: dict | None = None

    @property
    def validation(self):
        """The validation's name: from the manifest, else the folder's name."""
        return self.manifest.get("validation") or self.folder.name

    @property
    def anchor(self):
        """An HTML id for this run (label with every non-alphanumeric character replaced)."""
        return "run-" + "".join(c if c.isalnum() else "-" for c in self.label)


def load_run(folder, label=None, crash=None):
    """Read ``folder``'s verdict.json, manifest.json and PNGs into a :class:`Run`.

    A missing or unreadable verdict becomes a crash record (``crash`` passed in, or one
    saying what could not be read).
    """
    folder = Path(folder)
    run = Run(label or folder.name, folder, crash=crash)
    manifest = folder / "manifest.json"
    if manifest.is_file():
        try:
            run.manifest = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            run.manifest = {"error": f"manifest.json unreadable: {exc}"}
    run.plots = tuple(sorted(folder.glob("*.png")))
    if crash is None:
        try:
            run.verdict = json.loads((folder / "verdict.json").read_text())
        except (OSError, ValueError) as exc:
            run.crash = {"returncode": None, "message": f"verdict.json unreadable: {exc}"}
    return run


def find_runs(root):
    """Every run under ``root`` (``root`` itself included): folders with a verdict.json, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"root must be an existing folder, got {str(root)!r}")
    folders = sorted({p.parent for p in root.rglob("verdict.json")})
    return [load_run(f, label=(f.relative_to(root).as_posix() if f != root else f.name)) for f in folders]


def _g(value):
    """A number with 4 significant digits; '' for None; other values as text."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4g}"


def claim_cells(claim):
    """``(measured, bound or expected, margin, slack)`` of a verdict.json claim record.

    The slack is the kind's normalised distance to failure, with the claim holding iff it
    is <= 1: an UpperBound's worst upper ratio ``(e + k se)/b``; a Rate's
    ``max(hi - expected, expected - lo)/tolerance``; an Agreement's worst
    ``|a - b|/allowed``; None for a Check (deterministic, no margin).
    """
    n, kind = claim.get("numbers") or {}, claim.get("kind")
    margin = claim.get("margin") or {}
    if kind == "UpperBound":
        at = f" at {n['worst_label']}" if n.get("worst_label") else ""
        return (f"{_g(n.get('worst_empirical'))} ± {_g(n.get('worst_se'))}{at}", _g(n.get("worst_bound")),
                f"(e+{_g(margin.get('k'))}se)/b = {_g(n.get('worst_upper_ratio'))}", n.get("worst_upper_ratio"))
    if kind == "Rate":
        slack = None
        if None not in (n.get("hi"), n.get("lo"), n.get("expected")) and n.get("tolerance"):
            slack = max(n["hi"] - n["expected"], n["expected"] - n["lo"]) / n["tolerance"]
        return (f"{_g(n.get('slope'))} [{_g(n.get('lo'))}, {_g(n.get('hi'))}]",
                f"{_g(n.get('expected'))} ± {_g(n.get('tolerance'))}", f"CI edge/tol = {_g(slack)}", slack)
    if kind == "Agreement":
        return (f"{_g(n.get('worst_a'))} vs {_g(n.get('worst_b'))}", f"|a-b| <= {_g(n.get('worst_allowed'))}",
                f"|a-b|/allowed = {_g(n.get('worst_ratio'))}", n.get("worst_ratio"))
    shown = ", ".join(f"{k}={_g(v)}" for k, v in list(n.items())[:3] if not isinstance(v, list | dict))
    return shown, "", "", None


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top;font-size:13px}
th{background:#eee;cursor:pointer}
tr.fail td{background:#fdd} td.pass{color:#060;font-weight:bold} td.fail{color:#a00;font-weight:bold}
td.rejects{background:#dfd} td.accepts{background:#fee} td.absent{color:#888}
tr.idle th,tr.idle td:first-child{background:#fc9}
.crash{background:#fdd;border:1px solid #a00;padding:.5em} pre{white-space:pre-wrap;font-size:12px}
img{max-width:100%;border:1px solid #ddd;margin:4px 0}
"""

_JS = """
function sortTable(th){var t=th.closest('table'),b=t.tBodies[0],i=th.cellIndex,
asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
var rows=Array.prototype.slice.call(b.rows);
rows.sort(function(r,s){var x=r.cells[i].dataset.sort||r.cells[i].textContent,
y=s.cells[i].dataset.sort||s.cells[i].textContent,p=parseFloat(x),q=parseFloat(y);
var c=(!isNaN(p)&&!isNaN(q))?p-q:x.localeCompare(y);return asc?c:-c;});
rows.forEach(function(r){b.appendChild(r);});}
"""


_SHORT = 140


def _e(value):
    return html.escape("" if value is None else str(value))


def _theorem_cell(claim):
    theorem = claim.get("theorem")
    if theorem:
        where = f", {theorem['where']}" if theorem.get("where") else ""
        source = f"{theorem.get('reference') or ''}{where}"
        short = source if len(source) <= _SHORT else source[:_SHORT - 3] + "..."
        return f"<b>{_e(theorem.get('name'))}</b><br><span title='{_e(source)}'>{_e(short)}</span>"
    if claim.get("sanity_check"):
        return f"<i>sanity check: {_e(claim['sanity_check'])}</i>"
    return "<i>no theorem</i>"


def _claims_table(runs):
    head = ("validation", "claim", "theorem / paper", "confidence", "kind", "measured", "bound or expected",
            "margin", "verdict")
    rows = ["<table id='claims'><thead><tr>" + "".join(f"<th onclick='sortTable(this)'>{h}</th>" for h in head)
            + "</tr></thead><tbody>"]
    for run in runs:
        for i, claim in enumerate((run.verdict or {}).get("claims", [])):
            measured, bound, margin, slack = claim_cells(claim)
            theorem = claim.get("theorem") or {}
            confidence = theorem.get("confidence") or ("sanity check" if claim.get("sanity_check") else "none")
            holds = bool(claim.get("holds"))
            rows.append(
                f"<tr class='{'pass' if holds else 'fail'}'><td><a href='#{run.anchor}'>{_e(run.label)}</a></td>"
                f"<td><a href='#{run.anchor}-c{i}'>{_e(claim.get('name'))}</a> "
                f"(<a href='#{run.anchor}-plots'>plots</a>)</td><td>{_theorem_cell(claim)}</td>"
                f"<td>{_e(confidence)}</td><td>{_e(claim.get('kind'))}</td><td>{_e(measured)}</td>"
                f"<td>{_e(bound)}</td><td data-sort='{_e(slack if slack is not None else '')}'>{_e(margin)}</td>"
                f"<td class='{'pass' if holds else 'fail'}'>{'holds' if holds else 'FAILS'}</td></tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _overview(runs):
    rows = ["<table id='overview'><thead><tr><th>run</th><th>claims holding</th><th>mutants rejected</th>"
            "<th>sanity checks</th><th>seconds</th><th>status</th></tr></thead><tbody>"]
    for run in runs:
        verdict, mutants = run.verdict or {}, (run.verdict or {}).get("mutants")
        rejected = f"{mutants['n_rejected']} of {mutants['n_mutants']}" if mutants else "not run"
        if run.crash:
            status = f"CRASHED (exit {_e(run.crash.get('returncode'))})"
        else:
            status = "all hold" if verdict.get("all_hold") else "SOME FAIL"
        rows.append(f"<tr class='{'fail' if run.crash or not verdict.get('all_hold') else 'pass'}'>"
                    f"<td><a href='#{run.anchor}'>{_e(run.label)}</a></td>"
                    f"<td>{_e(verdict.get('n_hold', ''))} of {_e(verdict.get('n_claims', ''))}</td>"
                    f"<td>{_e(rejected)}</td><td>{_e(mutants['n_sanity_checks'] if mutants else '')}</td>"
                    f"<td>{_e(run.manifest.get('seconds', ''))}</td><td>{status}</td></tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


_MANIFEST_KEYS = ("validation", "seed", "finished", "seconds", "git_sha", "git_dirty", "code_hash", "python")


def _manifest(run):
    m = run.manifest
    if not m:
        return "<p><i>no manifest.json</i></p>"
    items = [f"<tr><th>{_e(k)}</th><td>{_e(m[k])}</td></tr>" for k in _MANIFEST_KEYS if k in m]
    items += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in m.items()
              if k not in _MANIFEST_KEYS and k not in ("versions", "machine", "options") and not isinstance(v, dict)]
    for group in ("versions", "machine"):
        if isinstance(m.get(group), dict):
            shown = ", ".join(f"{k} {v}" for k, v in m[group].items())
            items.append(f"<tr><th>{group}</th><td>{_e(shown)}</td></tr>")
    return "<table class='manifest'>" + "".join(items) + "</table>"


def _claim_details(run):
    parts = ["<ol>"]
    for i, claim in enumerate(run.verdict.get("claims", [])):
        theorem = claim.get("theorem")
        if theorem:
            arxiv = theorem.get("arxiv")
            link = f" (<a href='https://arxiv.org/abs/{_e(arxiv)}'>arXiv {_e(arxiv)}</a>)" if arxiv else ""
            extra = "".join(f"; {k} = {_e(theorem[k])}" for k in ("at", "symbol", "limit", "exponent") if k in theorem)
            about = (f"theorem <b>{_e(theorem.get('name'))}</b>: {_e(theorem.get('statement'))}"
                     f"<br><code>{_e(theorem.get('latex'))}</code><br>source: {_e(theorem.get('reference'))}, "
                     f"{_e(theorem.get('where'))}{link}; confidence <b>{_e(theorem.get('confidence'))}</b>"
                     f"{'' if theorem.get('constant_known', True) else '; constant unknown'}{extra}"
                     + (f"<br>note: {_e(theorem['note'])}" if theorem.get("note") else ""))
        elif claim.get("sanity_check"):
            about = f"sanity check: {_e(claim['sanity_check'])}"
        else:
            about = "no theorem"
        parts.append(f"<li id='{run.anchor}-c{i}'><b>{'holds' if claim.get('holds') else 'FAILS'}</b> "
                     f"[{_e(claim.get('kind'))}] <b>{_e(claim.get('name'))}</b>: {_e(claim.get('sentence'))}"
                     f"<br><small>{about}</small></li>")
    parts.append("</ol>")
    return "\n".join(parts)


def _matrix(run):
    mutants = run.verdict.get("mutants")
    if not mutants:
        return "<p><i>no planted wrong models in this run (--no-mutants, or none declared)</i></p>"
    declared = mutants.get("declared", [])
    names = [m["name"] for m in declared]
    idle = set(mutants.get("idle_claims", []))
    parts = [f"<p>{mutants.get('n_rejected')} of {mutants.get('n_mutants')} mutants rejected"
             f"{'' if mutants.get('all_rejected') else ' (NOT all: ' + _e(', '.join(mutants.get('unrejected', []))) + ')'}"
             f"; {mutants.get('n_sanity_checks')} sanity checks; idle claims (reject no mutant, not sanity "
             f"checks): {_e(', '.join(sorted(idle))) or 'none'}.</p><ul>"]
    for m in declared:
        error = f" <b>error: {_e(m['error'])}</b>" if m.get("error") else ""
        parts.append(f"<li><b>{_e(m['name'])}</b>: {_e(m.get('description'))} "
                     f"(rejected by {len(m.get('rejected_by', []))}){error}</li>")
    parts.append("</ul><table class='matrix'><thead><tr><th>claim \\ mutant</th>"
                 + "".join(f"<th>{_e(n)}</th>" for n in names) + "</tr></thead><tbody>")
    for claim, row in mutants.get("matrix", {}).items():
        parts.append(f"<tr class='{'idle' if claim in idle else ''}'><td>{_e(claim)}</td>"
                     + "".join(f"<td class='{_e(row.get(n))}'>{_e(row.get(n))}</td>" for n in names) + "</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def _plots(run):
    figures = []
    for png in run.plots:
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        figures.append(f"<figure id='{run.anchor}-{_e(png.stem)}'><img alt='{_e(png.name)}' "
                       f"src='data:image/png;base64,{data}'><figcaption>{_e(png.name)}</figcaption></figure>")
    return "\n".join(figures) or "<p><i>no plots</i></p>"


def _section(run):
    head = f"<h2 id='{run.anchor}'>{_e(run.label)} <small>({_e(run.validation)})</small></h2>"
    if run.crash:
        body = (f"<div class='crash'><b>crashed</b>: exit status {_e(run.crash.get('returncode'))}; "
                f"{_e(run.crash.get('message', ''))}<pre>{_e(run.crash.get('stderr', ''))}</pre></div>")
    else:
        body = (f"<h3>claims</h3>{_claim_details(run)}<h3>discrimination matrix</h3>{_matrix(run)}")
    return (f"{head}{body}<h3>manifest</h3>{_manifest(run)}"
            f"<h3 id='{run.anchor}-plots'>plots</h3>{_plots(run)}")


def render(runs, title="theorytk validations"):
    """The HTML page (a str) for ``runs`` (a sequence of :class:`Run`)."""
    n_claims = sum(len((r.verdict or {}).get("claims", [])) for r in runs)
    n_hold = sum(sum(bool(c.get("holds")) for c in (r.verdict or {}).get("claims", [])) for r in runs)
    n_crash = sum(r.crash is not None for r in runs)
    return "\n".join([
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style><script>{_JS}</script></head><body>",
        f"<h1>{_e(title)}</h1><p>{len(runs)} runs, {n_crash} crashed; {n_hold} of {n_claims} claims hold."
        " Click a column header to sort.</p>",
        "<h2>runs</h2>", _overview(runs), "<h2>every claim</h2>", _claims_table(runs),
        *(_section(r) for r in runs), "</body></html>"])


def write(path, runs, title="theorytk validations"):
    """Write :func:`render` to ``path`` (via a temporary name, then renamed); return the path."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(runs, title), encoding="utf-8")
    tmp.replace(path)
    return path

