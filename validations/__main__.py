"""``python -m validations``: list the validations and run every one in ``--quick`` mode.

Each validation runs as ``python -m validations.<name>`` in its own process and writes its
artifacts to ``<out>/<name>/``; a crash (an exit status other than 0 or 1, or no fresh
``verdict.json``) does not stop the others. Then one self-contained summary page,
``<out>/summary.html`` (:mod:`validations._report`), shows every claim, every
discrimination matrix, every plot and every crash. Options: ``--list`` (only list),
``--out DIR`` (default ``results``), ``--full`` (run the full protocols instead of
``--quick``), ``--seed``. Exit status: 0 when every claim of every validation holds, 1 when
some claim failed, 3 when some validation crashed (or exited 2, bad usage).
"""
import argparse
import ast
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

import validations
from validations import _report

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_CRASHED = 0, 1, 3
_STDERR_TAIL = 4000


def available():
    """Names of the validation modules (every public module of this package)."""
    return sorted(m.name for m in pkgutil.iter_modules(validations.__path__) if not m.name.startswith("_"))


def describe(name):
    """The ``DESCRIPTION`` of ``validations/<name>.py`` (else its docstring's first line), read
    with :mod:`ast` so that listing needs no import (a broken validation still lists)."""
    tree = ast.parse((Path(validations.__path__[0]) / f"{name}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DESCRIPTION" for t in node.targets) \
                and isinstance(node.value, ast.Constant):
            return node.value.value
    doc = (ast.get_docstring(tree) or "").strip().splitlines()
    return doc[0] if doc else ""


def run_one(name, flags):
    """Run ``python -m validations.<name> *flags``; return ``(exit status, stderr)`` (stderr echoed)."""
    process = subprocess.run([sys.executable, "-m", f"validations.{name}", *flags], stderr=subprocess.PIPE,
                             text=True, check=False)
    sys.stderr.write(process.stderr)
    return process.returncode, process.stderr


def collect(folder, name, status, stderr, started):
    """The :class:`validations._report.Run` of one finished validation, a crash record if it crashed.

    It crashed when its exit status is not 0 or 1, or when it left no ``verdict.json``
    written after ``started`` (a stale one from an earlier run does not count).
    """
    verdict = folder / "verdict.json"
    fresh = verdict.is_file() and verdict.stat().st_mtime >= started
    crash = None
    if status not in (EXIT_OK, EXIT_CLAIM_FAILED) or not fresh:
        message = "no fresh verdict.json was written" if not fresh else "non-zero exit status other than 1"
        crash = {"returncode": status, "message": message, "stderr": stderr[-_STDERR_TAIL:]}
    return _report.load_run(folder, label=name, crash=crash)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m validations", description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the validations and exit")
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--full", action="store_true", help="run the full protocols (default: --quick)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = available()
    if args.list:
        for name in names:
            print(f"{name:20s} {describe(name)}")
        return EXIT_OK
    runs = []
    for name in names:
        print(f"== validations.{name} ==", flush=True)
        folder = args.out / name
        flags = ["--out", str(folder), "--seed", str(args.seed)] + ([] if args.full else ["--quick"])
        started = time.time() - 1.0  # mtime resolution
        status, stderr = run_one(name, flags)
        runs.append(collect(folder, name, status, stderr, started))
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"summary: {_report.write(args.out / 'summary.html', runs)}")
    if any(run.crash for run in runs):
        print("crashed: " + ", ".join(run.label for run in runs if run.crash), file=sys.stderr)
        return EXIT_CRASHED
    return EXIT_OK if all(run.verdict.get("all_hold") for run in runs) else EXIT_CLAIM_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
