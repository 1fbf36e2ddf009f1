"""Tests of theorytk.sweep: ordering, reproducibility across executors, storing, resuming."""
import concurrent.futures as cf
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.unit import _sweep_fns as fns
from theorytk.random import run_seed_sequence
from theorytk.store import ResultStore, split_result
from theorytk.sweep import RunResult, SerialExecutor, make_executor, sweep

REPO = Path(__file__).resolve().parents[2]
SEED = 20250101


def _assert_same_results(actual, expected):
    """Bit-identical run results: same runs, same scalars (and their types), same array bytes."""
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert (a.config_index, a.replicate, a.run_id, a.config) == (e.config_index, e.replicate, e.run_id, e.config)
        assert a.scalars == e.scalars
        assert [type(v) for v in a.scalars.values()] == [type(v) for v in e.scalars.values()]
        assert a.arrays.keys() == e.arrays.keys()
        for name in e.arrays:
            assert a.arrays[name].dtype == e.arrays[name].dtype
            assert a.arrays[name].tobytes() == e.arrays[name].tobytes()


def _as_results(records):
    """Stored records as RunResults, for comparing a store with a returned sweep."""
    return [
        RunResult(r.config_index, r.replicate, r.config, r.scalars, r.load_arrays(), r.run_id) for r in records
    ]


@pytest.fixture(scope="module")
def serial_results():
    return sweep(fns.noisy_moments, fns.CONFIGS, fns.REPLICATES, seed=SEED, progress=False)


@pytest.fixture(scope="module")
def process_executor():
    with make_executor("process", workers=2) as executor:
        yield executor


# --- what a sweep returns ----------------------------------------------------------------


def test_results_are_ordered_and_each_run_uses_its_own_stream(serial_results):
    expected_slots = [(i, r) for i in range(len(fns.CONFIGS)) for r in range(fns.REPLICATES)]
    assert [(res.config_index, res.replicate) for res in serial_results] == expected_slots
    for res in serial_results:
        assert res.config == fns.CONFIGS[res.config_index]
        assert res.config is not fns.CONFIGS[res.config_index]
        direct = split_result(fns.noisy_moments(res.config, run_seed_sequence(SEED, res.config_index, res.replicate)))
        _assert_same_results([res], [RunResult(res.config_index, res.replicate, res.config, *direct, res.run_id)])
    assert set(serial_results[0].scalars) == {"mean", "max", "n_positive", "all_small"}
    assert set(serial_results[0].arrays) == {"sample", "cumsum32"}
    assert len({res.run_id for res in serial_results}) == len(serial_results)


def test_same_seed_same_numbers_other_seed_other_numbers(serial_results):
    _assert_same_results(sweep(fns.noisy_moments, fns.CONFIGS, fns.REPLICATES, seed=SEED), serial_results)
    other = sweep(fns.noisy_moments, fns.CONFIGS, fns.REPLICATES, seed=SEED + 1)
    assert all(o.scalars["mean"] != s.scalars["mean"] for o, s in zip(other, serial_results))


def test_a_run_does_not_depend_on_how_many_replicates_run(serial_results):
    fewer = sweep(fns.noisy_moments, fns.CONFIGS[:2], 2, seed=SEED)
    _assert_same_results(fewer, [res for res in serial_results if res.config_index < 2 and res.replicate < 2])


def test_serial_executor_matches_no_executor(serial_results):
    with make_executor("serial") as executor:
        assert isinstance(executor, SerialExecutor)
        results = sweep(fns.noisy_moments, fns.CONFIGS, fns.REPLICATES, seed=SEED, executor=executor)
    _assert_same_results(results, serial_results)


def test_process_pool_is_bit_identical_to_serial(serial_results, process_executor, tmp_path):
    with ResultStore(tmp_path / "results.sqlite") as store:
        results = sweep(
            fns.noisy_moments, fns.CONFIGS, fns.REPLICATES, seed=SEED, store=store, executor=process_executor
        )
        stored = _as_results(store.records())
    _assert_same_results(results, serial_results)
    _assert_same_results(stored, serial_results)


@pytest.mark.dask
def test_dask_cluster_is_bit_identical_to_serial(serial_results, tmp_path):
    distributed = pytest.importorskip("distributed")
    with make_executor("dask", workers=2) as executor, ResultStore(tmp_path / "results.sqlite") as store:
        assert len(distributed.default_client().scheduler_info()["workers"]) == 2
        results = sweep(fns.noisy_moments, fns.CONFIGS, fns.REPLICATES, seed=SEED, store=store, executor=executor)
        stored = _as_results(store.records())
    _assert_same_results(results, serial_results)
    _assert_same_results(stored, serial_results)


def test_progress_bar_only_when_asked(capsys):
    sweep(fns.noisy_moments, fns.CONFIGS[:1], 2, seed=0, progress=True)
    assert "sweep: 100%" in capsys.readouterr().err
    sweep(fns.noisy_moments, fns.CONFIGS[:1], 2, seed=0, progress=False)
    assert capsys.readouterr().err == ""


# --- storing and resuming ----------------------------------------------------------------


def test_store_holds_exactly_what_was_returned(serial_results, tmp_path):
    with ResultStore(tmp_path / "results.sqlite") as store:
        results = sweep(fns.noisy_moments, fns.CONFIGS, fns.REPLICATES, seed=SEED, store=store)
        records = store.records()
    _assert_same_results(results, serial_results)
    _assert_same_results(_as_results(records), serial_results)
    assert {r.seed for r in records} == {SEED}


def test_resume_runs_only_the_missing_runs(serial_results, tmp_path):
    # refuse_first_config raises on CONFIGS[0]: a resume that re-ran a stored run would fail.
    with ResultStore(tmp_path / "results.sqlite") as store:
        sweep(fns.noisy_moments, fns.CONFIGS[:1], fns.REPLICATES, seed=SEED, store=store)
        results = sweep(fns.refuse_first_config, fns.CONFIGS, fns.REPLICATES, seed=SEED, store=store, resume=True)
        with pytest.raises(AssertionError, match="run again"):  # the guard fires on a missing run
            sweep(fns.refuse_first_config, fns.CONFIGS, fns.REPLICATES + 1, seed=SEED, store=store, resume=True)
    _assert_same_results(results, serial_results)


def test_resume_keeps_stored_rows_untouched(tmp_path):
    with ResultStore(tmp_path / "results.sqlite") as store:
        sweep(fns.noisy_moments, fns.CONFIGS[:1], 2, seed=SEED, store=store)
        before = {r.run_id: r.finished for r in store.records()}
        sweep(fns.noisy_moments, fns.CONFIGS, 2, seed=SEED, store=store, resume=True)
        after = {r.run_id: r.finished for r in store.records()}
    assert len(after) == 2 * len(fns.CONFIGS)
    assert {rid: after[rid] for rid in before} == before


def test_without_resume_the_store_is_cleared(tmp_path):
    with ResultStore(tmp_path / "results.sqlite") as store:
        sweep(fns.noisy_moments, fns.CONFIGS, 2, seed=SEED, store=store)
        sweep(fns.noisy_moments, fns.CONFIGS[:1], 1, seed=SEED, store=store)
        assert [(r.config_index, r.replicate) for r in store.records()] == [(0, 0)]
        assert len(list(store.arrays_dir.iterdir())) == 1


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"seed": SEED + 1}, "seed=20250101; this sweep gives it config_index=0 and seed=20250102"),
        ({"configs": fns.CONFIGS[::-1]}, "config_index=0 and seed=20250101; this sweep gives it config_index=2"),
        ({"configs": fns.CONFIGS[1:]}, "does not plan"),
        ({"replicates": 1}, "does not plan"),
        ({"code_version": "other"}, "does not plan"),
    ],
)
def test_resume_refuses_a_store_of_another_sweep(tmp_path, change, match):
    arguments = {"configs": fns.CONFIGS, "replicates": 2, "seed": SEED}
    with ResultStore(tmp_path / "results.sqlite") as store:
        sweep(fns.noisy_moments, **arguments, store=store)
        with pytest.raises(ValueError, match=match):
            sweep(fns.noisy_moments, **{**arguments, **change}, store=store, resume=True)
        assert len(store.records()) == 2 * len(fns.CONFIGS)


def test_resume_prunes_arrays_left_by_a_crash(serial_results, tmp_path):
    with ResultStore(tmp_path / "results.sqlite") as store:
        sweep(fns.noisy_moments, fns.CONFIGS[:1], 1, seed=SEED, store=store)
        missing = serial_results[1].run_id
        (store.arrays_dir / f".{missing}.x1y2.tmp").write_bytes(b"PK half")
        (store.arrays_dir / f"{missing}.npz").write_bytes(b"a stale archive whose row never came")
        results = sweep(fns.noisy_moments, fns.CONFIGS, fns.REPLICATES, seed=SEED, store=store, resume=True)
        _assert_same_results(_as_results(store.records()), serial_results)
        names = sorted(p.name for p in store.arrays_dir.iterdir())
    assert names == sorted(f"{r.run_id}.npz" for r in serial_results)
    _assert_same_results(results, serial_results)


def _count_rows(path):
    if not path.exists():
        return 0
    with ResultStore(path) as reader:
        return len(reader.finished_ids())


def test_processes_opening_one_new_store_at_once_all_succeed(tmp_path):
    """Four processes open a fresh store at the same instant, ten times: switching it to WAL raced
    ("database is locked" for 19 of 120 opens before ResultStore retried it)."""
    with cf.ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(abs, range(4)))                       # workers up before the first race
        for k in range(10):
            start = time.time() + 0.2
            runs = [pool.submit(fns.open_store_at_once, str(tmp_path / f"store{k}" / "results.sqlite"), start)
                    for _ in range(4)]
            assert all(run.result() for run in runs)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_process_workers_die_with_a_sigkilled_driver(tmp_path):
    """Issue 13 part 3: a killed driver's pool workers used to finish their run (90+ s) before noticing."""
    pid_file = tmp_path / "pids"
    driver = subprocess.Popen([sys.executable, "-m", "tests.unit._sweep_driver", str(tmp_path / "results.sqlite"),
                               str(SEED), str(pid_file)], cwd=REPO, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not pid_file.exists() or len(pid_file.read_text().split()) < 2:
            assert driver.poll() is None, driver.stderr.read().decode()
            assert time.monotonic() < deadline, "the workers did not start in 120 s"
            time.sleep(0.05)
        workers = [int(pid) for pid in pid_file.read_text().split()]
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait()
        driver.stderr.close()

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        stat = Path(f"/proc/{pid}/stat")
        return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))   # a zombie is dead

    deadline = time.monotonic() + 10          # the workers sleep for 60 s: only the driver's death can end them
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers), [pid for pid in workers if alive(pid)]


def test_sigkilled_driver_resumes_without_loss_or_duplicates(serial_results, tmp_path):
    path = tmp_path / "killed" / "results.sqlite"
    driver = subprocess.Popen(
        [sys.executable, "-m", "tests.unit._sweep_driver", str(path), str(SEED)],
        cwd=REPO,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while _count_rows(path) < 3:
            assert driver.poll() is None, driver.stderr.read().decode()
            assert time.monotonic() < deadline, "the driver wrote no rows in 60 s"
            time.sleep(0.01)
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait()
        driver.stderr.close()
    assert driver.returncode == -signal.SIGKILL
    survived = _count_rows(path)
    assert 3 <= survived < len(serial_results), "the kill must land mid-sweep"

    with ResultStore(path) as store:
        resumed = sweep(fns.noisy_moments, fns.CONFIGS, fns.REPLICATES, seed=SEED, store=store, resume=True)
        records = store.records()
        names = sorted(p.name for p in store.arrays_dir.iterdir())
    _assert_same_results(resumed, serial_results)
    _assert_same_results(_as_results(records), serial_results)
    assert [(r.config_index, r.replicate) for r in records] == [(r.config_index, r.replicate) for r in serial_results]
    assert names == sorted(r.arrays_file.name for r in records)


# --- failures ----------------------------------------------------------------------------


def test_a_failing_run_is_named_and_earlier_runs_are_stored(tmp_path):
    configs = [{"n": 5, "scale": 1.0}, {"n": 2, "scale": 1.0}]
    with ResultStore(tmp_path / "results.sqlite") as store:
        with pytest.raises(RuntimeError, match="n=2 is too small") as info:
            sweep(fns.fail_on_small_n, configs, 2, seed=SEED, store=store)
        assert [(r.config_index, r.replicate) for r in store.records()] == [(0, 0), (0, 1)]
    assert "config_index=1, replicate=0" in "".join(info.value.__notes__)


def test_a_failing_run_in_a_pool_is_named_and_finished_runs_are_stored(process_executor, tmp_path):
    configs = [{"n": 5, "scale": 1.0}, {"n": 2, "scale": 1.0}]
    with ResultStore(tmp_path / "results.sqlite") as store:
        with pytest.raises(RuntimeError, match="n=2 is too small") as info:
            sweep(fns.fail_on_small_n, configs, 2, seed=SEED, store=store, executor=process_executor)
        assert {r.config_index for r in store.records()} <= {0}
        resumed = sweep(fns.noisy_moments, configs, 2, seed=SEED, store=store, resume=True)
    assert "theorytk.sweep: raised by the run config_index=1" in "".join(info.value.__notes__)
    _assert_same_results(resumed, sweep(fns.noisy_moments, configs, 2, seed=SEED))


@pytest.mark.parametrize(
    ("fn", "error", "match"),
    [(fns.text_result, TypeError, "'label' must be a real number"), (fns.list_result, TypeError, "must be a mapping")],
)
def test_malformed_results_are_rejected_with_the_run_named(fn, error, match):
    with pytest.raises(error, match=match) as info:
        sweep(fn, fns.CONFIGS, 1, seed=0)
    assert "config_index=0, replicate=0" in "".join(info.value.__notes__)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"fn": "noisy_moments"}, TypeError, "fn must be callable"),
        ({"configs": []}, ValueError, "at least one configuration"),
        ({"configs": {"n": 5}}, TypeError, "configs must be a sequence of mappings"),
        ({"configs": "n=5"}, TypeError, "configs must be a sequence of mappings"),
        ({"configs": [{"n": 5}, 7]}, TypeError, r"configs\[1\]: config must be a mapping"),
        ({"configs": [{"n": 5}, {"f": len}]}, TypeError, r"configs\[1\]: config\['f'\]"),
        ({"configs": [{"n": 5}, {"n": 6}, {"n": 5}]}, ValueError, r"configs\[2\] equals configs\[0\]"),
        ({"replicates": 0}, ValueError, "replicates must be >= 1"),
        ({"replicates": 2.0}, TypeError, "replicates must be an integer"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"seed": None}, TypeError, "seed must be an integer"),
        ({"store": "results.sqlite"}, TypeError, "store must be ResultStore or None"),
        ({"executor": cf.ThreadPoolExecutor}, TypeError, "executor must be Executor or None"),
        ({"resume": 1}, TypeError, "resume must be bool"),
        ({"resume": True}, ValueError, "resume=True needs a store"),
        ({"progress": "yes"}, TypeError, "progress must be bool or None"),
        ({"code_version": 1}, TypeError, "code_version must be str"),
    ],
)
def test_bad_arguments_raise_before_anything_runs(change, error, match):
    arguments = {"fn": fns.refuse_first_config, "configs": [{"n": 5}], "replicates": 1, "seed": 0}
    arguments.update(change)
    with pytest.raises(error, match=match):
        sweep(arguments.pop("fn"), arguments.pop("configs"), arguments.pop("replicates"), **arguments)


# --- make_executor -----------------------------------------------------------------------


def test_make_executor_process_gives_a_process_pool():
    with make_executor("process", workers=1) as executor:
        assert isinstance(executor, cf.ProcessPoolExecutor)
        assert executor.submit(pow, 2, 10).result() == 1024


def test_serial_executor_runs_inline_and_captures_exceptions():
    executor = SerialExecutor()
    assert executor.submit(divmod, 7, 2).result() == (3, 1)
    failed = executor.submit(divmod, 1, 0)
    assert failed.done() and isinstance(failed.exception(), ZeroDivisionError)
    executor.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(divmod, 1, 1)


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        (("threads",), ValueError, "kind must be one of"),
        (("process", 0), ValueError, "workers must be >= 1"),
        (("process", 1.5), TypeError, "workers must be an integer"),
        (("serial", 2), ValueError, "workers must be None or 1"),
        (("process", None, "tcp://127.0.0.1:8786"), ValueError, "scheduler is only for kind='dask'"),
        (("dask", 2, "tcp://127.0.0.1:8786"), ValueError, "workers must be None with a scheduler"),
        (("dask", None, 8786), TypeError, "scheduler must be an address str"),
    ],
)
def test_make_executor_rejects_bad_arguments(arguments, error, match):
    with pytest.raises(error, match=match):
        with make_executor(*arguments):
            pass


def test_make_executor_dask_names_the_extra_when_distributed_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install theorytk\[dask\]"):
        with make_executor("dask", workers=1):
            pass


def test_discard_stale_recomputes_runs_of_other_code(tmp_path, capsys):
    with ResultStore(tmp_path / "s.sqlite") as store:
        sweep(fns.noisy_moments, fns.CONFIGS, 2, seed=SEED, store=store, code_version="old")
        results = sweep(fns.noisy_moments, fns.CONFIGS, 2, seed=SEED, store=store, resume=True,
                        code_version="new", discard_stale=True)
        assert {r.run_id for r in store.records()} == {r.run_id for r in results}
    assert f"reused 0 stored runs, recomputes {2 * len(fns.CONFIGS)}" in capsys.readouterr().err


def test_discard_stale_still_refuses_another_seed(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        sweep(fns.noisy_moments, fns.CONFIGS, 2, seed=SEED, store=store)
        with pytest.raises(ValueError, match="seed"):
            sweep(fns.noisy_moments, fns.CONFIGS, 2, seed=SEED + 1, store=store, resume=True, discard_stale=True)
