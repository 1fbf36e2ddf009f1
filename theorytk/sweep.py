"""Run a function over configurations x replicates, on any executor, storing as runs finish.

A sweep of ``fn`` over configurations :math:`c_0, \\dots, c_{C-1}` with :math:`R`
replicates calls ``fn(config=c_i, seed=S_{i,r})`` for every :math:`(i, r)`, where
:math:`S_{i,r}` = :func:`theorytk.random.run_seed_sequence` ``(seed, i, r)``. Each run's
random numbers depend only on ``(seed, i, r)``, so the results are bit-identical whether
the runs go inline, to a :class:`concurrent.futures.ProcessPoolExecutor` or to a
``dask.distributed`` cluster, and in whatever order they finish.

The driver (the process calling :func:`sweep`) is the only writer of the
:class:`~theorytk.store.ResultStore`: it stores each run the moment it finishes, so a
killed sweep loses at most the runs in flight, and ``resume=True`` runs only what is
missing.
"""
import concurrent.futures as cf
import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import signal
import sys
from collections.abc import Mapping, Sequence

from tqdm import tqdm

from theorytk import __version__, _validate
from theorytk.random import run_seed_sequence
from theorytk.store import ResultStore, run_id, split_result

__all__ = ["RunResult", "SerialExecutor", "make_executor", "sweep"]


@dataclasses.dataclass(frozen=True)
class RunResult:
    """The outcome of one run of a sweep.

    Attributes
    ----------
    config_index, replicate : int
        Position of the run in the sweep.
    config : dict
        A copy of the configuration passed to the sweep.
    scalars : dict[str, bool | int | float]
        The run's real-number results, as Python numbers.
    arrays : dict[str, numpy.ndarray]
        The run's array results.
    run_id : str
        See :func:`theorytk.store.run_id`.
    """

    config_index: int
    replicate: int
    config: dict
    scalars: dict
    arrays: dict
    run_id: str


class SerialExecutor(cf.Executor):
    """An executor that runs each call inline, at ``submit`` time, in the calling process.

    ``submit`` returns an already finished ``concurrent.futures.Future`` holding the result
    or the exception. :func:`sweep` treats it like ``executor=None``: runs go one at a time,
    in order, each stored before the next starts.
    """

    def __init__(self):
        self._shut_down = False

    def submit(self, fn, /, *args, **kwargs):
        """Call ``fn(*args, **kwargs)`` now; return a finished future with its outcome."""
        if self._shut_down:
            raise RuntimeError("cannot submit to a SerialExecutor after shutdown()")
        future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        """Refuse further submissions (nothing is ever pending)."""
        self._shut_down = True


@dataclasses.dataclass(frozen=True)
class _Run:
    """One planned run: its position, configuration and id."""

    config_index: int
    replicate: int
    config: Mapping
    run_id: str


def _execute(fn, config, seed):
    """Worker side of one run: call ``fn`` and split its result into scalars and arrays.

    Module-level so that process pools and dask can pickle it; splitting here means a
    malformed result fails in the run that produced it.
    """
    return split_result(fn(dict(config), seed))


def sweep(
    fn,
    configs,
    replicates,
    *,
    seed,
    store=None,
    executor=None,
    resume=False,
    progress=None,
    code_version=__version__,
    discard_stale=False,
):
    """Run ``fn`` on every configuration x replicate; store and return the results.

    Parameters
    ----------
    fn : callable
        ``fn(config: dict, seed: numpy.random.SeedSequence) -> Mapping[str, real |
        numpy.ndarray]``, drawing all its randomness from ``seed`` (e.g. through
        :func:`theorytk.random.generator`). Real numbers become ``scalars``, arrays
        ``arrays``. For a process pool or dask it must be picklable: defined at module
        level in an importable module.
    configs : Sequence[Mapping[str, object]]
        Non-empty; JSON-like values (numbers, strings, lists, dicts, NumPy scalars); no two
        equal (they would be the same runs).
    replicates : int
        Runs per configuration, ``>= 1``.
    seed : int
        Root seed, ``>= 0``; run ``(i, r)`` gets ``run_seed_sequence(seed, i, r)``.
    store : ResultStore, optional
        Where each run is written as it finishes. Without ``resume`` it is cleared first.
    executor : concurrent.futures.Executor, optional
        Where runs execute; ``None`` (or a :class:`SerialExecutor`) runs them inline, in
        order. Any executor whose futures are ``concurrent.futures.Future`` works: a
        ``ProcessPoolExecutor``, or ``client.get_executor(pure=False)`` for dask (see
        :func:`make_executor`).
    resume : bool
        Keep the runs already in ``store`` and run only the missing ones. The store must
        come from this same sweep, possibly with fewer configurations (a prefix) or
        replicates: same seed, same code version, same configuration order.
    progress : bool, optional
        Show a tqdm bar on stderr; ``None`` shows it when stderr is a terminal.
    code_version : str
        Part of every run id (default: theorytk's version), so stored results of other code
        are never resumed.
    discard_stale : bool
        With ``resume``: delete stored runs this sweep does not plan (other code version,
        configurations or replicates: stale) and recompute them, instead of raising. Runs of
        another root seed are still refused. A resume prints to stderr how many runs it
        reused and recomputed.

    Returns
    -------
    list of RunResult
        Ordered by ``(config_index, replicate)``, whatever the completion order.

    Raises
    ------
    TypeError, ValueError
        For bad arguments, before anything runs; ``ValueError`` also when ``resume=True``
        and the store holds runs of a different sweep.
    Exception
        The first exception raised by a run, with a note naming the run. Runs not yet
        started are cancelled; runs already running still finish and are stored, so
        ``resume=True`` picks up from there.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r} of type {type(fn).__name__}")
    _check_instance("code_version", code_version, str, optional=False)
    plan = _plan(configs, replicates, code_version)
    seed = _validate.integer("seed", seed, minimum=0)
    _check_instance("store", store, ResultStore)
    _check_instance("executor", executor, cf.Executor)
    _check_instance("resume", resume, bool, optional=False)
    _check_instance("progress", progress, bool)
    _check_instance("discard_stale", discard_stale, bool, optional=False)
    if resume and store is None:
        raise ValueError("resume=True needs a store to resume from, got store=None")

    results = {}
    if store is not None:
        if resume:
            results = _stored_results(store, plan, seed, discard_stale)
            print(f"theorytk.sweep: resume reused {len(results)} stored runs, recomputes {len(plan) - len(results)}",
                  file=sys.stderr)
        else:
            store.clear()
        store.prune_arrays()
    todo = [run for run in plan if (run.config_index, run.replicate) not in results]
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(plan), initial=len(plan) - len(todo), disable=not show, desc="sweep", unit="run") as bar:

        def finish(run, outcome):
            scalars, arrays = outcome
            if store is not None:
                store.put(run.run_id, run.config_index, run.replicate, run.config, scalars, arrays, seed=seed)
            results[run.config_index, run.replicate] = RunResult(
                run.config_index, run.replicate, dict(run.config), scalars, arrays, run.run_id
            )
            bar.update()

        if executor is None or isinstance(executor, SerialExecutor):
            _run_inline(fn, todo, seed, finish)
        else:
            _run_on(executor, fn, todo, seed, finish)
    return [results[run.config_index, run.replicate] for run in plan]


def _plan(configs, replicates, code_version):
    """Validate the sweep's shape and return its runs in (config_index, replicate) order."""
    if isinstance(configs, (str, bytes)) or not isinstance(configs, Sequence):
        raise TypeError(f"configs must be a sequence of mappings, got {type(configs).__name__}")
    if not configs:
        raise ValueError("configs must hold at least one configuration, got an empty sequence")
    replicates = _validate.integer("replicates", replicates, minimum=1)
    plan, first_index = [], {}
    for index, config in enumerate(configs):
        try:
            ids = [run_id(config, replicate, code_version) for replicate in range(replicates)]
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"configs[{index}]: {exc}") from exc
        if ids[0] in first_index:
            raise ValueError(
                f"configs[{index}] equals configs[{first_index[ids[0]]}]: each configuration must appear "
                "once (use more replicates for more runs of one configuration)"
            )
        first_index[ids[0]] = index
        plan.extend(_Run(index, replicate, config, rid) for replicate, rid in enumerate(ids))
    return plan


def _check_instance(name, value, kind, *, optional=True):
    if (optional and value is None) or isinstance(value, kind):
        return
    allowed = f"{kind.__name__} or None" if optional else kind.__name__
    raise TypeError(f"{name} must be {allowed}, got {value!r} of type {type(value).__name__}")


def _stored_results(store, plan, seed, discard_stale=False):
    """The planned runs already in ``store``; ``ValueError`` if it holds another sweep's runs.

    With ``discard_stale`` the unplanned runs are deleted instead (they get recomputed).
    """
    planned = {run.run_id: run for run in plan}
    results, stale = {}, []
    for record in store.records():
        run = planned.get(record.run_id)
        if run is None and discard_stale and record.seed in (None, seed):
            stale.append(record.run_id)
            continue
        if run is None:
            raise ValueError(
                f"resume=True, but {store.path} holds run {record.run_id} (config_index={record.config_index}, "
                f"replicate={record.replicate}, config={record.config!r}) that this sweep does not plan: its "
                "configurations, replicates or code_version differ. Pass resume=False to start over, or use a "
                "new store."
            )
        if (record.config_index, record.seed) != (run.config_index, seed):
            raise ValueError(
                f"resume=True, but {store.path} holds replicate {run.replicate} of config {dict(run.config)!r} run "
                f"with config_index={record.config_index} and seed={record.seed}; this sweep gives it "
                f"config_index={run.config_index} and seed={seed}, hence another random stream. Pass resume=False "
                "to start over, or use a new store."
            )
        results[run.config_index, run.replicate] = RunResult(
            run.config_index, run.replicate, dict(run.config), record.scalars, record.load_arrays(), run.run_id
        )
    if stale:
        store.delete(stale)
    return results


def _failed(exc, run):
    """Add a note naming the failed run to ``exc`` and return it."""
    exc.add_note(
        f"theorytk.sweep: raised by the run config_index={run.config_index}, replicate={run.replicate}, "
        f"config={dict(run.config)!r}"
    )
    return exc


def _run_inline(fn, todo, seed, finish):
    """Run ``todo`` one by one in this process, finishing each before starting the next."""
    for run in todo:
        try:
            outcome = _execute(fn, run.config, run_seed_sequence(seed, run.config_index, run.replicate))
        except Exception as exc:
            raise _failed(exc, run)
        finish(run, outcome)


def _run_on(executor, fn, todo, seed, finish):
    """Submit ``todo`` to ``executor``; finish each run as it completes.

    After the first failure the runs not yet started are cancelled, the running ones are
    still finished (stored), then the failure is raised. Leaving early (an exception while
    storing, ``KeyboardInterrupt``) cancels whatever has not started.
    """
    futures = {
        executor.submit(_execute, fn, run.config, run_seed_sequence(seed, run.config_index, run.replicate)): run
        for run in todo
    }
    failure = None
    try:
        for future in cf.as_completed(futures):
            if future.cancelled():
                continue
            run = futures[future]
            exc = future.exception()
            if exc is None:
                finish(run, future.result())
            elif failure is None:
                failure = _failed(exc, run)
                _cancel(futures)
    finally:
        _cancel(futures)
    if failure is not None:
        raise failure


def _cancel(futures):
    for future in futures:
        future.cancel()


@contextlib.contextmanager
def make_executor(kind, workers=None, scheduler=None):
    """Open an executor for :func:`sweep`; close it (and anything it started) on exit.

    Parameters
    ----------
    kind : {"serial", "process", "dask"}
        ``"serial"``: a :class:`SerialExecutor` (inline, in order). ``"process"``: a
        ``ProcessPoolExecutor`` whose workers are *spawned* (fresh interpreters: forking a
        driver whose numba or BLAS threads are running can deadlock the child, and spawn
        also works where ``fn`` lives in a module run as ``python -m``). ``"dask"``:
        ``client.get_executor(pure=False)`` on a ``dask.distributed`` client (``pure=False``
        because two runs with equal arguments must still both run).
    workers : int, optional
        Number of worker processes, ``>= 1``. ``None``: the machine's CPU count for
        ``"process"``, dask's default for a new ``LocalCluster``. ``"serial"`` allows only
        ``None`` or 1; with a ``scheduler`` it must be ``None`` (the cluster has its workers).
    scheduler : str, optional
        Only for ``"dask"``: the address of a running scheduler (e.g.
        ``"tcp://10.0.0.5:8786"``). ``None`` starts a ``LocalCluster(n_workers=workers,
        threads_per_worker=1, processes=True)`` without dashboard, closed on exit.

    Yields
    ------
    concurrent.futures.Executor

    Raises
    ------
    ValueError, TypeError
        For an unknown ``kind`` or a ``workers``/``scheduler`` that does not fit it.
    ImportError
        For ``"dask"`` when ``dask.distributed`` is not installed (``pip install theorytk[dask]``).

    Examples
    --------
    >>> with make_executor("process", workers=2) as executor:  # doctest: +SKIP
    ...     results = sweep(simulate, configs, 10, seed=0, executor=executor)
    """
    _validate.choice("kind", kind, {"serial", "process", "dask"})
    if workers is not None:
        workers = _validate.integer("workers", workers, minimum=1)
    if scheduler is not None:
        if kind != "dask":
            raise ValueError(f"scheduler is only for kind='dask', got scheduler={scheduler!r} with kind={kind!r}")
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address str or None, got {type(scheduler).__name__}")
        if workers is not None:
            raise ValueError(
                f"workers must be None with a scheduler (the cluster at {scheduler!r} has its own workers), "
                f"got {workers}"
            )
    if kind == "serial":
        if workers not in (None, 1):
            raise ValueError(f"kind='serial' runs one run at a time: workers must be None or 1, got {workers}")
        with SerialExecutor() as executor:
            yield executor
    elif kind == "process":
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_die_with_parent, initargs=(os.getpid(),)) as executor:
            yield executor
    else:
        with _dask_executor(workers, scheduler) as executor:
            yield executor


def _die_with_parent(parent_pid):
    """Pool initializer: the worker gets SIGKILL when its driver dies (Linux ``PR_SET_PDEATHSIG``).

    Without it a worker of a killed driver finishes its run (90+ s seen) before noticing.
    Elsewhere (no ``prctl``) it does nothing. If the driver died before the call, exit now.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os._exit(1)


@contextlib.contextmanager
def _dask_executor(workers, scheduler):
    """``client.get_executor(pure=False)`` on a new LocalCluster or the given scheduler."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError(
            "make_executor('dask') needs dask.distributed, which is not installed: pip install theorytk[dask]"
        ) from exc
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            cluster = stack.enter_context(
                LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            )
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(Client(scheduler))
        with client.get_executor(pure=False) as executor:
            yield executor
