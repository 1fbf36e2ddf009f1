"""The harness's run machinery (issue 13 parts 1-4): code-aware resume, one writer per --out,
honest exit codes, no stale artifacts. Each test is a repro that failed on the old harness."""
import fcntl
import json
import os

import pytest

from tests.cli import _tiny_validation as tiny
from theorytk.store import ResultStore
from validations import _harness


def _run(out, *args):
    return tiny.main(["--out", str(out), "--no-plot", *args])


def _means(out):
    return [r.scalars["mean"] for r in ResultStore(out / "results.sqlite").records()]


def test_resume_recomputes_runs_made_stale_by_a_settings_edit(tmp_path, monkeypatch, capsys):
    assert _run(tmp_path) == 0
    before = _means(tmp_path)
    monkeypatch.setattr(tiny, "OFFSET", 100.0)   # as editing BURN_IN in a validation module
    assert _run(tmp_path, "--resume") == 1      # the shifted mean fails "mean is 0": the runs were recomputed
    after = _means(tmp_path)
    assert len(after) == len(before) == 8
    assert all(abs(a - b - 100.0) < 1e-9 for a, b in zip(after, before))
    assert "reused 0 stored runs, recomputes 8" in capsys.readouterr().err


def test_resume_without_edits_reuses_every_run(tmp_path, capsys):
    assert _run(tmp_path) == 0
    csv = (tmp_path / "results.csv").read_text()
    assert _run(tmp_path, "--resume") == 0
    assert "reused 8 stored runs, recomputes 0" in capsys.readouterr().err
    assert (tmp_path / "results.csv").read_text() == csv


def test_code_version_follows_settings_and_source(monkeypatch):
    first = _harness.code_version(tiny.experiment)
    monkeypatch.setattr(tiny, "OFFSET", 1.0)
    assert _harness.code_version(tiny.experiment) != first
    assert _harness.settings(tiny) == {"OFFSET": "1.0", "FAIL": "''"}


def test_manifest_records_code_version_and_git(tmp_path):
    assert _run(tmp_path) == 0
    info = json.loads((tmp_path / "manifest.json").read_text())
    assert info["code_version"] == _harness.code_version(tiny.experiment)
    assert info["git"] is None or set(info["git"]) == {"sha", "dirty"}


def test_resume_with_another_seed_on_one_folder_is_refused(tmp_path, capsys):
    assert _run(tmp_path, "--seed", "0") == 0
    assert _run(tmp_path, "--seed", "1", "--resume") == 2
    err = capsys.readouterr().err
    assert "seed 0" in err and "would mix" in err
    assert {r.seed for r in ResultStore(tmp_path / "results.sqlite").records()} == {0}


def test_another_seed_without_resume_starts_a_fresh_store(tmp_path, capsys):
    assert _run(tmp_path, "--seed", "0") == 0
    assert _run(tmp_path, "--seed", "1") == 0
    assert "starting a fresh store" in capsys.readouterr().err
    assert {r.seed for r in ResultStore(tmp_path / "results.sqlite").records()} == {1}


def test_a_second_writer_on_one_out_fails_at_once_naming_the_holder(tmp_path, capsys):
    with open(tmp_path / ".lock", "a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        holder.write("424242\n")
        holder.flush()
        assert _run(tmp_path) == 2
    err = capsys.readouterr().err
    assert "in use by another run (PID 424242" in err
    assert not (tmp_path / "results.sqlite").exists()
    assert _run(tmp_path) == 0    # released: the next run gets the folder


@pytest.mark.parametrize("fail, message", [("value", "ValueError: singular matrix"),
                                           ("solver", "TinyDiverged: tiny solver diverged")])
def test_a_crash_in_a_run_exits_3_with_traceback_and_the_run_named(tmp_path, monkeypatch, capsys, fail, message):
    monkeypatch.setattr(tiny, "FAIL", fail)
    assert _run(tmp_path) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and message in err and "config={'a': 1}" in err


def test_an_unusable_out_is_bad_usage(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert _run(tmp_path / "file" / "sub") == 2
    assert "cannot create the directory" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_out_is_bad_usage(tmp_path, capsys):
    tmp_path.chmod(0o500)
    try:
        assert _run(tmp_path) == 2
    finally:
        tmp_path.chmod(0o700)
    assert "not writable" in capsys.readouterr().err


def test_an_unreachable_scheduler_is_a_crash_not_a_failed_claim(tmp_path):
    pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        status = _run(tmp_path, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1")
    assert status == 3


def test_executor_flags_that_do_not_fit_are_bad_usage(tmp_path, capsys):
    assert _run(tmp_path, "--executor", "serial", "--workers", "2") == 2
    assert "workers must be None or 1" in capsys.readouterr().err


def test_a_crashed_run_leaves_no_stale_verdict(tmp_path, monkeypatch):
    assert _run(tmp_path) == 0
    (tmp_path / "old.png").write_bytes(b"png")
    monkeypatch.setattr(tiny, "FAIL", "value")
    assert _run(tmp_path) == 3
    assert not (tmp_path / "verdict.json").exists()
    assert not (tmp_path / "manifest.json").exists()
    assert not (tmp_path / "old.png").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_workers_above_the_core_count_warn(tmp_path, capsys):
    _harness._check_args(_harness.parser("x", "x").parse_args(["--workers", str((os.cpu_count() or 1) + 1)]))
    assert "exceeds the" in capsys.readouterr().err
