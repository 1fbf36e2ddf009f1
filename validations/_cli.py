"""The ``theorytk`` console command: list, run, report, compare and cite validations.

Subcommands (``main(argv) -> exit status``):

``theorytk list``
    every validation with its one-line description and the theorems of its proofs module
    (name, where, confidence) and their papers; read without importing the validation.
``theorytk run NAME [flags...]``
    ``python -m validations.NAME flags...``, with its exit status (0 all hold, 1 a claim
    failed, 2 bad usage, 3 crashed).
``theorytk report DIR [--out FILE]``
    one self-contained HTML page (:mod:`validations._report`) for every run under ``DIR``
    (any folder holding a ``verdict.json``); default ``DIR/report.html``.
``theorytk compare A B [--k K]``
    a table of every claim of the runs under ``A`` against the same claim under ``B``; exit
    1 when a verdict flips, a claim or run of ``A`` is missing from ``B``, or a margin
    shrinks beyond its noise (below), else 0.
``theorytk cite NAME``
    BibTeX of every paper behind the theorems a validation checks: from the theorem
    records of ``NAME/verdict.json`` when ``NAME`` is a run folder (the theorems its claims
    actually used), else from the theorems of ``proofs.NAME``; ``@misc`` with ``eprint``
    for an arXiv id.

"Beyond its noise"
------------------
Each statistical claim has a *slack* ``s`` with the claim holding iff ``s <= 1``
(:func:`validations._report.claim_cells`) and a standard error ``se(s)`` from the recorded
numbers:

* UpperBound: ``s = (e + k se)/b`` at the worst point, ``se(s) = se/b`` there;
* Rate: ``s = max(hi - expected, expected - lo)/tolerance``, ``se(s) = slope_se/tolerance``;
* Agreement: ``s = |a - b|/allowed`` at the worst point, ``se(s) = combined_se/allowed``.

The margin of a claim shrank beyond its noise when ``s_B - s_A > K sqrt(se_A(s)^2 +
se_B(s)^2)`` with ``K = --k`` (default 3: a one-sided z-test of "the slack grew" at about
0.13 % for two independent runs). A Check has no slack: only its verdict is compared. A
slack or SE that is missing or not finite is shown as such and never counts as a shrink.
"""
import argparse
import importlib
import math
import re
import subprocess
import sys
from pathlib import Path

from validations import _report
from validations.__main__ import available, describe

EXIT_OK, EXIT_CHANGED, EXIT_USAGE = 0, 1, 2
_ARXIV = re.compile(r"arXiv[:\s]*(\d{4}\.\d{4,5})", re.IGNORECASE)
_YEAR = re.compile(r"\b(19\d{2}|20\d{2})\b")


def _usage(message):
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def theorems_of(name):
    """The theorems of ``proofs.<name>``: its ``THEOREMS`` tuple, else every theorem-like global.

    Raises ImportError when there is no such proofs module.
    """
    module = importlib.import_module(f"proofs.{name}")
    found = getattr(module, "THEOREMS", None)
    if found is None:
        found = [v for v in vars(module).values() if hasattr(v, "source") and hasattr(v, "statement")
                 and hasattr(v, "to_dict") and not isinstance(v, type)]
    return list({id(t): t for t in found}.values())


def cmd_list(_args):
    for name in available():
        try:
            description = describe(name)
        except (OSError, SyntaxError) as exc:
            description = f"(cannot read: {exc})"
        print(f"{name}: {description}")
        try:
            theorems = theorems_of(name)
        except Exception as exc:  # noqa: BLE001 -- a missing or broken proofs module must not stop the listing
            print(f"    (no theorems: {type(exc).__name__}: {exc})")
            continue
        for t in theorems:
            print(f"    {t.name}: {_short(t.source.where or '-')} [{t.source.confidence}]")
        papers = sorted({_first_line(t.source.reference) for t in theorems if not _derived(t.source.reference)})
        for paper in papers:
            print(f"    paper: {paper}")
    return EXIT_OK


def _short(text, width=100):
    """``text`` on one line, cut to ``width`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _first_line(text):
    return text.strip().splitlines()[0] if text.strip() else ""


def _derived(reference):
    return reference.strip().lower().startswith("derived here")


def cmd_run(args):
    if args.name not in available():
        return _usage(f"NAME must be one of {', '.join(available())}, got {args.name!r}")
    return subprocess.run([sys.executable, "-m", f"validations.{args.name}", *args.flags], check=False).returncode


def cmd_report(args):
    try:
        runs = _report.find_runs(args.dir)
    except ValueError as exc:
        return _usage(f"DIR: {exc}")
    if not runs:
        return _usage(f"DIR {str(args.dir)!r} holds no run (no verdict.json under it)")
    out = args.out or Path(args.dir) / "report.html"
    print(f"report of {len(runs)} runs: {_report.write(out, runs, title=f'theorytk runs under {args.dir}')}")
    return EXIT_OK


def slack_se(claim):
    """The standard error of a claim's slack from its recorded numbers (see the module docstring)."""
    n, kind = claim.get("numbers") or {}, claim.get("kind")
    pairs = {"UpperBound": ("worst_se", "worst_bound"), "Rate": ("slope_se", "tolerance"),
             "Agreement": ("worst_combined_se", "worst_allowed")}
    if kind not in pairs:
        return None
    top, bottom = (_finite(n.get(key)) for key in pairs[kind])
    return top / abs(bottom) if top is not None and bottom else None


def _finite(value):
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def compare_claims(a, b, k):
    """``(status, detail)`` of claim record ``b`` against ``a``: status "ok", "flip" or "shrank"."""
    if bool(a.get("holds")) != bool(b.get("holds")):
        return "flip", f"{'holds' if a.get('holds') else 'fails'} -> {'holds' if b.get('holds') else 'fails'}"
    sa, sb = (_finite(_report.claim_cells(c)[3]) for c in (a, b))
    ea, eb = slack_se(a), slack_se(b)
    if None in (sa, sb):
        return "ok", "no slack"
    if None in (ea, eb):
        return "ok", f"slack {sa:.4g} -> {sb:.4g} (no finite SE)"
    noise = k * math.hypot(ea, eb)
    detail = f"slack {sa:.4g} -> {sb:.4g}, {k:g} SE = {noise:.3g}"
    return ("shrank" if sb - sa > noise else "ok"), detail


def _pair_runs(runs_a, runs_b):
    """Match runs by label; two single runs are matched whatever their labels."""
    if len(runs_a) == 1 and len(runs_b) == 1:
        return [(runs_a[0], runs_b[0])]
    by_label = {r.label: r for r in runs_b}
    return [(r, by_label.get(r.label)) for r in runs_a]


def cmd_compare(args):
    if not (args.k > 0 and math.isfinite(args.k)):
        return _usage(f"--k must be a positive finite number, got {args.k}")
    try:
        runs_a, runs_b = _report.find_runs(args.a), _report.find_runs(args.b)
    except ValueError as exc:
        return _usage(str(exc))
    if not runs_a:
        return _usage(f"A {str(args.a)!r} holds no run (no verdict.json under it)")
    rows, changed = [], 0
    for run_a, run_b in _pair_runs(runs_a, runs_b):
        claims_b = {c["name"]: c for c in (run_b.verdict or {}).get("claims", [])} if run_b else {}
        if run_a.crash or (run_b is not None and run_b.crash):
            rows.append((run_a.label, "-", "crash", "a run crashed or is unreadable"))
            changed += 1
            continue
        for claim in run_a.verdict.get("claims", []):
            other = claims_b.get(claim["name"])
            status, detail = ("missing", "not in B") if other is None else compare_claims(claim, other, args.k)
            changed += status != "ok"
            rows.append((run_a.label, claim["name"], status, detail))
    widths = [max(len(str(row[i])) for row in rows + [("run", "claim", "status", "")]) for i in range(3)]
    print(f"{'run':<{widths[0]}}  {'claim':<{widths[1]}}  {'status':<{widths[2]}}  detail")
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
    print(f"{changed} of {len(rows)} claims changed beyond their noise (K = {args.k:g})")
    return EXIT_CHANGED if changed else EXIT_OK


def _bib_escape(text):
    return re.sub(r"([&%$#_])", r"\\\1", text).replace("{", "").replace("}", "")


def parse_reference(piece):
    """``{authors, title, venue, year, arxiv}`` of one work's free-form reference string.

    The form read is "Author, Author, Title, Venue Year, arXiv NNNN.NNNNN": leading short
    capitalised segments are authors ("A & B" splits), the next segment is the title, the
    rest the venue; what does not parse stays in the venue.
    """
    arxiv = _ARXIV.search(piece)
    text = _ARXIV.sub("", piece).replace("()", "").strip(" ,;")
    years = _YEAR.findall(text)
    segments = [s.strip() for s in text.split(",") if s.strip()]
    authors = []
    while segments:
        bare = _YEAR.sub("", re.sub(r"\(.*?\)", "", segments[0])).strip()
        words = bare.replace("&", " ").split()
        if not words or len(words) > 3 or not all(w[0].isupper() for w in words):
            break
        authors += [a.strip() for a in bare.split("&") if a.strip()]
        if bare != segments[0].strip():
            segments.pop(0)
            break
        segments.pop(0)
    title = segments.pop(0) if len(segments) > 1 else ""
    return {"authors": authors, "title": title, "venue": ", ".join(segments),
            "year": years[-1] if years else "", "arxiv": arxiv.group(1) if arxiv else ""}


def bibtex(records, label):
    """BibTeX entries (a str) for theorem ``records`` (dicts with name/reference/where/confidence)."""
    works = {}
    for record in records:
        for piece in (record.get("reference") or "").split(";"):
            if piece.strip() and not _derived(piece):
                works.setdefault(piece.strip(), []).append(record)
    entries, keys = [], set()
    for piece, used in works.items():
        ref = parse_reference(piece)
        stem = re.sub(r"\W", "", (ref["authors"][0] if ref["authors"] else "anon").split()[-1]).lower()
        key, i = f"{stem}{ref['year']}", 1
        while key in keys:
            i += 1
            key = f"{stem}{ref['year']}{chr(ord('a') + i - 1)}"
        keys.add(key)
        checked = "; ".join(f"{r['name']} ({r.get('where') or '-'}, confidence {r.get('confidence')})" for r in used)
        fields = [("author", " and ".join(ref["authors"])), ("title", ref["title"]), ("howpublished", ref["venue"]),
                  ("year", ref["year"])]
        if ref["arxiv"]:
            fields += [("eprint", ref["arxiv"]), ("archivePrefix", "arXiv")]
        fields.append(("note", f"checked by theorytk {label}: {checked}"))
        body = ",\n".join(f"  {name} = {{{_bib_escape(value)}}}" for name, value in fields if value)
        entries.append(f"@misc{{{key},\n{body}\n}}")
    derived = sorted({r["name"] for r in records if _derived(r.get("reference") or "")})
    if derived:
        entries.append(f"% derived here (no citation): {', '.join(derived)}")
    return "\n\n".join(entries)


def cmd_cite(args):
    folder = Path(args.name)
    if (folder / "verdict.json").is_file():
        run = _report.load_run(folder)
        records = list({c["theorem"]["name"]: c["theorem"] for c in run.verdict.get("claims", [])
                        if c.get("theorem")}.values())
        label = run.validation
    elif args.name in available():
        try:
            records = [t.to_dict() for t in theorems_of(args.name)]
        except ImportError as exc:
            return _usage(f"validation {args.name!r} has no proofs module: {exc}")
        label = args.name
    else:
        return _usage(f"NAME must be a validation ({', '.join(available())}) or a run folder, got {args.name!r}")
    print(bibtex(records, label))
    return EXIT_OK


def parser():
    p = argparse.ArgumentParser(prog="theorytk", description="theorytk: check ML theory against simulation.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="validations, their papers and theorems").set_defaults(fn=cmd_list)
    run = sub.add_parser("run", help="run a validation (= python -m validations.NAME)")
    run.add_argument("name")
    run.add_argument("flags", nargs=argparse.REMAINDER, help="passed on, e.g. --quick --out runs/a")
    run.set_defaults(fn=cmd_run)
    report = sub.add_parser("report", help="one HTML page for every run under DIR")
    report.add_argument("dir", type=Path)
    report.add_argument("--out", type=Path, default=None, help="the page (default DIR/report.html)")
    report.set_defaults(fn=cmd_report)
    compare = sub.add_parser("compare", help="exit 1 when a verdict flips or a margin shrinks beyond its noise")
    compare.add_argument("a", type=Path)
    compare.add_argument("b", type=Path)
    compare.add_argument("--k", type=float, default=3.0, help="noise band in standard errors of the slack")
    compare.set_defaults(fn=cmd_compare)
    cite = sub.add_parser("cite", help="BibTeX of the theorems a validation checks")
    cite.add_argument("name", help="a validation name, or a run folder holding a verdict.json")
    cite.set_defaults(fn=cmd_cite)
    return p


def main(argv=None):
    """Run the ``theorytk`` command with ``argv`` (default ``sys.argv[1:]``); return its exit status."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return args.fn(args)


if __name__ == "__main__":
    raise SystemExit(main())
