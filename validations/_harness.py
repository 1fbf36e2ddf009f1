"""What every validation shares: its command line, its executor and store, its artifacts.

A validation module defines ``NAME``, a one-line ``DESCRIPTION``, ``MUTANTS`` (the planted
wrong models of :mod:`theorytk.mutants`) and ``experiment(context) -> Verdicts``, and ends
with ``raise SystemExit(main())`` where ``main = harness.entry_point(...)``. The harness runs
the experiment on the true model (``context.mutant is None``) and then once per mutant
(``context.mutant`` is its name; every config of that run's sweep carries ``"mutant"``), and
writes the discrimination matrix claim x mutant into ``verdict.json`` beside the claims. Each
mutant's runs go to a store of their own, ``mutants/<name>/results.sqlite`` (and ``.csv``), so
``results.csv`` holds the true model's runs only and ``--resume`` resumes every store. The harness parses the common flags, opens the
executor and the result store, runs the experiment, and writes to ``--out``
(default ``results/<name>/``): ``results.sqlite``, ``results.csv`` (one row per
config x replicate), ``verdict.json``, ``manifest.json`` and the experiment's PNG plots.

Exit status: 0 every claim holds; 1 some claim failed (a finding, reported as such);
2 bad usage (argument parsing and the checks of the arguments themselves); 3 the run
crashed or a solver failed (:class:`theorytk.errors.SolverFailure`, or any other exception
inside the experiment, the executor or the store: the traceback is printed). An unusable
``--out``, an ``--out`` locked by another run and ``--resume`` into a folder of another
validation or seed are bad usage (2).

Run keys follow the code: every run id hashes, besides its config, the validation's settings
(its module-level UPPER_CASE numbers, strings and tuples) and the SHA-256 of the source of
``theorytk/``, ``proofs/`` and the validation module, so ``--resume`` recomputes the runs an
edit made stale (the sweep prints how many it reused and recomputed); ``manifest.json``
records that code version and the git sha and dirty flag. One writer per ``--out``: an
``fcntl`` lock on ``--out/.lock`` holding the writer's PID. Artifacts are written to a
temporary name and renamed; a new run first removes the previous run's ``verdict.json``,
``manifest.json`` and PNGs, so an interrupted run never leaves an old verdict beside a new store.
"""
import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from theorytk.errors import SolverFailure
from theorytk.mutants import Discrimination
from theorytk.store import ResultStore, atomic_open
from theorytk.sweep import make_executor, sweep

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_USAGE, EXIT_CRASHED = 0, 1, 2, 3
_ROOT = Path(__file__).resolve().parent.parent
_IDENTITY = ".run.json"
_PACKAGES = ("theorytk", "numpy", "scipy", "sympy", "numba", "matplotlib", "hypothesis", "dask", "distributed")


@dataclass
class Context:
    """What an experiment gets: its options, where to write, and a sweep bound to the store."""

    name: str
    quick: bool
    seed: int
    out: Path
    plot: bool
    resume: bool
    progress: bool | None
    executor: object
    store: ResultStore
    mutant: str | None = None
    code_version: str = ""

    def sweep(self, fn, configs, replicates):
        """:func:`theorytk.sweep.sweep` on this run's executor and store.

        In a mutant run every config gets the entry ``"mutant": <name>`` (so its runs have
        their own keys in the store, and ``fn`` can plant the wrong model); on the true model
        the configs are passed unchanged.
        """
        if self.mutant is not None:
            configs = [{**config, "mutant": self.mutant} for config in configs]
        return sweep(fn, configs, replicates, seed=self.seed, store=self.store, executor=self.executor,
                     resume=self.resume, progress=self.progress, code_version=self.code_version or "unversioned",
                     discard_stale=True)

    def figure_path(self, stem):
        return self.out / f"{stem}.png"


def parser(name, description):
    """The common flags of DESIGN.md."""
    p = argparse.ArgumentParser(prog=f"python -m validations.{name}", description=description)
    p.add_argument("--quick", action="store_true", help="small version (under a minute on 2 cores; CI uses it)")
    p.add_argument("--out", type=Path, default=None, help=f"artifact directory (default results/{name})")
    p.add_argument("--seed", type=int, default=0, help="root seed (non-negative integer)")
    p.add_argument("--executor", choices=("serial", "process", "dask"), default="serial")
    p.add_argument("--workers", type=int, default=None, help="workers for process/dask executors")
    p.add_argument("--scheduler", default=None, help="dask scheduler address (default: a LocalCluster)")
    p.add_argument("--resume", action="store_true", help="skip runs already in the store")
    p.add_argument("--no-plot", action="store_true", help="write no PNG plots")
    p.add_argument("--no-mutants", action="store_true",
                   help="skip the planted wrong models (the verdict then has no discrimination matrix)")
    return p


def settings(module):
    """The module-level UPPER_CASE constants of a validation module that shape a run.

    Numbers, strings, bools and (nested) tuples/lists of them, e.g. ``BURN_IN``; names,
    descriptions and mutant declarations are not settings (mutant names are in the configs).
    """
    def plain(value):
        if isinstance(value, (bool, int, float, str)) or value is None:
            return True
        return isinstance(value, (tuple, list)) and all(plain(item) for item in value)

    found = {}
    for key, value in vars(module).items():
        if key.isupper() and not key.startswith("_") and key not in ("NAME", "DESCRIPTION") and plain(value):
            found[key] = repr(value)
    return found


def source_hash(module_file):
    """SHA-256 of the source of ``theorytk/``, ``proofs/`` and the validation module (paths and bytes)."""
    digest = hashlib.sha256()
    files = sorted(p for package in ("theorytk", "proofs") for p in (_ROOT / package).rglob("*.py"))
    if module_file is not None:
        files.append(Path(module_file).resolve())
    for path in files:
        digest.update(str(path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path.name).encode())
        digest.update(b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_version(experiment):
    """The run-key code version of ``experiment``'s validation: its settings and the source hash."""
    module = sys.modules.get(experiment.__module__)
    payload = {"settings": settings(module) if module else {},
               "source": source_hash(getattr(module, "__file__", None))}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def git_state():
    """``{"sha", "dirty"}`` of the checkout holding the code, or ``None`` without git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_ROOT, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain", "--", "theorytk", "proofs", "validations"],
                                cwd=_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if sha.returncode != 0:
        return None
    return {"sha": sha.stdout.strip(), "dirty": bool(status.stdout.strip())}


def manifest(name, args, seconds):
    """Versions, seed, machine and command line of a run."""
    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    import numba

    return {
        "validation": name,
        "argv": sys.argv,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "seed": args.seed,
        "seconds": round(seconds, 3),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version,
        "versions": versions,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "numba_threads": numba.get_num_threads()},
    }


class UsageError(Exception):
    """Bad usage detected before the run starts (exit status 2)."""


def _usable_out(out):
    """Create ``out``; ``UsageError`` if it cannot be created or written."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the directory ({exc.strerror or exc})") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: the directory is not writable")
    return out


@contextlib.contextmanager
def _lock(out):
    """Hold an exclusive ``fcntl`` lock on ``out/.lock`` (holder's PID inside); ``UsageError`` if held."""
    path = out / ".lock"
    try:
        handle = open(path, "a+")
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot open the lock file {path} ({exc.strerror or exc})") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise UsageError(f"--out {out} is in use by another run (PID {holder}, lock {path}); "
                             "wait for it or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _claim_folder(out, name, args):
    """Make ``out`` this run's before anything runs.

    ``--resume`` into a folder that holds a run of another validation or seed is refused
    (``UsageError``: the stores would mix). Without ``--resume`` such a folder gets a fresh
    store (the sweep clears it; a note says so). Either way the previous run's verdict,
    manifest and PNGs are removed first, and without ``--resume`` its mutant stores too.
    """
    identity = {"validation": name, "seed": args.seed}
    path = out / _IDENTITY
    previous = None
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            previous = json.loads(path.read_text())
    if previous is not None and previous != identity:
        if args.resume:
            raise UsageError(f"--resume: {out} holds a run of validation {previous.get('validation')!r} with seed "
                             f"{previous.get('seed')!r}, not {name!r} with seed {args.seed}; resuming would mix "
                             "them. Drop --resume to start over there, or choose another --out")
        print(f"note: {out} held a run of validation {previous.get('validation')!r} with seed "
              f"{previous.get('seed')!r}; starting a fresh store there (its runs are deleted)", file=sys.stderr)
    for stale in ("verdict.json", "manifest.json", *(p.name for p in out.glob("*.png"))):
        (out / stale).unlink(missing_ok=True)
    if not args.resume:
        shutil.rmtree(out / "mutants", ignore_errors=True)
    with atomic_open(path) as handle:
        json.dump(identity, handle)


def _check_args(args):
    """Argument validation beyond argparse; ``UsageError`` naming the flag; a warning for too many workers."""
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    cpus = os.cpu_count() or 1
    if args.workers is not None and args.workers > cpus:
        print(f"warning: --workers {args.workers} exceeds the {cpus} CPU cores of this machine: the runs will "
              "compete for cores (slower, more memory)", file=sys.stderr)


def _crashed(exc):
    traceback.print_exc()
    kind = "a solver failed" if isinstance(exc, SolverFailure) else "the run crashed"
    print(f"error: {kind} ({type(exc).__name__}: {exc}); exit status {EXIT_CRASHED}, no verdict written",
          file=sys.stderr)
    return EXIT_CRASHED


def run(name, description, experiment, argv=None, mutants=()):
    """Parse ``argv``, run ``experiment(context)`` on the true model and on each of ``mutants``,
    write the artifacts; return the exit status (see the module docstring)."""
    args = parser(name, description).parse_args(argv)
    out = args.out if args.out is not None else Path("results") / name
    mutants = () if args.no_mutants else tuple(mutants)
    with contextlib.ExitStack() as stack:
        try:
            _check_args(args)
            _usable_out(out)
            stack.enter_context(_lock(out))
            _claim_folder(out, name, args)
            # ValueError/TypeError here are make_executor's checks of --executor/--workers/--scheduler;
            # ImportError: the dask extra is missing. An unreachable scheduler (OSError) is a crash.
            executor = stack.enter_context(make_executor(args.executor, args.workers, args.scheduler))
        except (UsageError, ValueError, TypeError, ImportError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except Exception as exc:  # noqa: BLE001
            return _crashed(exc)
        try:
            return _run_and_write(name, args, experiment, mutants, out, executor)
        except Exception as exc:  # noqa: BLE001 -- every failure of the run itself is exit 3, with its traceback
            return _crashed(exc)


def _run_and_write(name, args, experiment, mutants, out, executor):
    """Run the true model and the mutants, write the artifacts atomically; return 0 or 1."""
    started = time.perf_counter()
    version = code_version(experiment)
    with ResultStore(out / "results.sqlite") as store:
        verdicts = experiment(Context(name, args.quick, args.seed, out, not args.no_plot, args.resume, None,
                                      executor, store, code_version=version))
        store.to_csv(out / "results.csv")
    by_mutant = {}
    for mutant in mutants:
        # each mutant has its own store (a sweep owns its store), so results.csv holds the true model only
        with ResultStore(out / "mutants" / mutant.name / "results.sqlite") as store:
            by_mutant[mutant.name] = experiment(Context(name, args.quick, args.seed, out, False, args.resume,
                                                        None, executor, store, mutant.name, code_version=version))
            store.to_csv(out / "mutants" / mutant.name / "results.csv")
    record = verdicts.to_dict()
    discrimination = Discrimination.of(verdicts, by_mutant, mutants) if mutants else None
    record["mutants"] = discrimination.to_dict() if discrimination else None
    with atomic_open(out / "verdict.json") as handle:
        handle.write(json.dumps(record, indent=2, allow_nan=False) + "\n")
    info = manifest(name, args, time.perf_counter() - started)
    info["code_version"] = version
    info["git"] = git_state()
    with atomic_open(out / "manifest.json") as handle:
        handle.write(json.dumps(info, indent=2))
    print(verdicts.summary())
    if discrimination:
        print(discrimination.summary())
    print(f"artifacts in {out}/ ({time.perf_counter() - started:.1f} s)")
    return EXIT_OK if verdicts.all_hold else EXIT_CLAIM_FAILED


def mean_se_by(records, keys, value):
    """Group sweep results by the config ``keys``; return ``{key tuple: (mean, se, n)}`` of scalar ``value``.

    The standard error is the spread across replicates (independent runs) / sqrt(n).
    """
    groups = {}
    for record in records:
        groups.setdefault(tuple(record.config[k] for k in keys), []).append(record.scalars[value])
    out = {}
    for key, values in groups.items():
        values = np.asarray(values, dtype=float)
        se = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else np.inf
        out[key] = (float(values.mean()), float(se), int(values.size))
    return out


def entry_point(name, description, experiment, mutants=()):
    """``main(argv=None) -> exit status`` for a validation module with its planted ``mutants``."""
    def main(argv=None):
        return run(name, description, experiment, argv, mutants)

    main.__doc__ = f"Run validations.{name}: {description}"
    return main
