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
inside the experiment, the executor or the store: the traceback is printed).
"""
import argparse
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from theorytk.errors import SolverFailure
from theorytk.mutants import Discrimination
from theorytk.store import ResultStore
from theorytk.sweep import make_executor, sweep

EXIT_OK, EXIT_CLAIM_FAILED, EXIT_USAGE, EXIT_CRASHED = 0, 1, 2, 3
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

    def sweep(self, fn, configs, replicates):
        """:func:`theorytk.sweep.sweep` on this run's executor and store.

        In a mutant run every config gets the entry ``"mutant": <name>`` (so its runs have
        their own keys in the store, and ``fn`` can plant the wrong model); on the true model
        the configs are passed unchanged.
        """
        if self.mutant is not None:
            configs = [{**config, "mutant": self.mutant} for config in configs]
        return sweep(fn, configs, replicates, seed=self.seed, store=self.store, executor=self.executor,
                     resume=self.resume, progress=self.progress)

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


def run(name, description, experiment, argv=None, mutants=()):
    """Parse ``argv``, run ``experiment(context)`` on the true model and on each of ``mutants``,
    write the artifacts; return the exit status."""
    args = parser(name, description).parse_args(argv)
    if args.seed < 0:
        print(f"error: --seed must be a non-negative integer, got {args.seed}", file=sys.stderr)
        return EXIT_USAGE
    if args.workers is not None and args.workers < 1:
        print(f"error: --workers must be >= 1, got {args.workers}", file=sys.stderr)
        return EXIT_USAGE
    out = args.out if args.out is not None else Path("results") / name
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    mutants = () if args.no_mutants else tuple(mutants)
    try:
        with make_executor(args.executor, args.workers, args.scheduler) as executor:
            with ResultStore(out / "results.sqlite") as store:
                verdicts = experiment(Context(name, args.quick, args.seed, out, not args.no_plot, args.resume, None,
                                              executor, store))
                store.to_csv(out / "results.csv")
            by_mutant = {}
            for mutant in mutants:
                # each mutant has its own store (a sweep owns its store), so results.csv holds the true model only
                with ResultStore(out / "mutants" / mutant.name / "results.sqlite") as store:
                    by_mutant[mutant.name] = experiment(Context(name, args.quick, args.seed, out, False, args.resume,
                                                                None, executor, store, mutant.name))
                    store.to_csv(out / "mutants" / mutant.name / "results.csv")
    except Exception as exc:  # noqa: BLE001 -- every failure of the run itself is exit 3, with its traceback
        traceback.print_exc()
        kind = "a solver failed" if isinstance(exc, SolverFailure) else "the run crashed"
        print(f"error: {kind} ({type(exc).__name__}: {exc}); exit status {EXIT_CRASHED}, no verdict written",
              file=sys.stderr)
        return EXIT_CRASHED
    record = verdicts.to_dict()
    discrimination = Discrimination.of(verdicts, by_mutant, mutants) if mutants else None
    record["mutants"] = discrimination.to_dict() if discrimination else None
    (out / "verdict.json").write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    (out / "manifest.json").write_text(json.dumps(manifest(name, args, time.perf_counter() - started), indent=2))
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
