"""Tests of theorytk.store: run ids, the SQLite store, atomic arrays, the tidy CSV."""
import csv
import hashlib
import math
import os
import sqlite3

import numpy as np
import pytest

from theorytk import store as store_module
from theorytk.store import ResultStore, run_id, split_result

CONFIG = {"n": 10, "eta": 0.1, "solver": "euler"}


@pytest.fixture
def store(tmp_path):
    with ResultStore(tmp_path / "results.sqlite") as opened:
        yield opened


def _arrays():
    return {
        "path": np.linspace(0.0, 1.0, 7),
        "counts": np.arange(6, dtype=np.int32).reshape(2, 3),
        "flags": np.array([True, False]),
        "single": np.float32(1.0 / 3.0) * np.ones(3, dtype=np.float32),
        "zero_d": np.array(2.5),
    }


def _assert_arrays_identical(actual, expected):
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype, name
        assert actual[name].shape == value.shape, name
        assert actual[name].tobytes() == value.tobytes(), name


# --- run_id ------------------------------------------------------------------------------


def test_run_id_is_stable_across_sessions():
    # Hard-coded: a change here silently orphans every stored result, so it must be deliberate.
    assert run_id(CONFIG, 3, "0.1.0") == "5e61161f0f16210c8f26c29d"


def test_run_id_is_sha256_of_canonical_json():
    text = '{"code_version":"0.1.0","config":{"eta":0.1,"n":10,"solver":"euler"},"replicate":3}'
    assert run_id(CONFIG, 3, "0.1.0") == hashlib.sha256(text.encode()).hexdigest()[:24]


def test_run_id_ignores_key_order_and_numpy_types():
    reordered = {"solver": "euler", "eta": 0.1, "n": 10}
    numpy_typed = {"n": np.int64(10), "eta": np.float64(0.1), "solver": np.str_("euler")}
    assert run_id(reordered, 3, "0.1.0") == run_id(numpy_typed, 3, "0.1.0") == run_id(CONFIG, 3, "0.1.0")
    assert run_id({"shape": (2, 3)}, 0, "v") == run_id({"shape": np.array([2, 3])}, 0, "v")


def test_run_id_changes_with_every_input():
    base = run_id(CONFIG, 3, "0.1.0")
    others = {
        run_id(CONFIG, 4, "0.1.0"),
        run_id(CONFIG, 3, "0.1.1"),
        run_id({**CONFIG, "n": 11}, 3, "0.1.0"),
        run_id({**CONFIG, "n": 10.0}, 3, "0.1.0"),
        run_id({**CONFIG, "extra": None}, 3, "0.1.0"),
    }
    assert base not in others and len(others) == 5
    assert len(base) == 24 and int(base, 16) >= 0


@pytest.mark.parametrize(
    ("config", "replicate", "version", "error", "match"),
    [
        ([("n", 1)], 0, "v", TypeError, "config must be a mapping"),
        ({1: 2}, 0, "v", TypeError, "keys must be str"),
        ({"f": print}, 0, "v", TypeError, r"config\['f'\]"),
        ({"n": 1}, -1, "v", ValueError, "replicate must be >= 0"),
        ({"n": 1}, 0, 1.0, TypeError, "code_version must be a str"),
    ],
)
def test_run_id_rejects_bad_input(config, replicate, version, error, match):
    with pytest.raises(error, match=match):
        run_id(config, replicate, version)


# --- split_result ------------------------------------------------------------------------


def test_split_result_converts_scalars_to_python_and_keeps_arrays():
    x = np.arange(3.0)
    scalars, arrays = split_result(
        {"a": np.float32(0.1), "b": np.int64(4), "c": np.bool_(True), "d": 2.5, "x": x, "z": np.array(1.0)}
    )
    assert scalars == {"a": float(np.float32(0.1)), "b": 4, "c": True, "d": 2.5}
    assert [type(v) for v in scalars.values()] == [float, int, bool, float]
    assert arrays["x"] is x and arrays["z"].shape == ()


@pytest.mark.parametrize(
    ("result", "match"),
    [
        ({"label": "text"}, "'label' must be a real number"),
        ({"c": 1 + 2j}, "'c' must be a real number"),
        ({"xs": [1.0, 2.0]}, "'xs' must be a real number"),
        ({"o": np.array([None])}, "'o' must not have an object dtype"),
        ({"": 1.0}, "non-empty str"),
        ([1.0], "result must be a mapping"),
    ],
)
def test_split_result_rejects_unstorable_values(result, match):
    with pytest.raises(TypeError, match=match):
        split_result(result)


# --- ResultStore -------------------------------------------------------------------------


def test_store_uses_wal_and_creates_directories(tmp_path):
    path = tmp_path / "deep" / "er" / "results.sqlite"
    with ResultStore(path) as opened:
        assert opened.arrays_dir == path.parent / "arrays" and opened.arrays_dir.is_dir()
        assert opened._connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_put_then_records_round_trips_exactly(store):
    arrays = _arrays()
    scalars = {"err": 0.1 + 0.2, "tiny": 5e-324, "neg_zero": -0.0, "inf": math.inf, "steps": 7, "ok": True}
    config = {"n": np.int64(10), "grid": (1, 2), "name": "x"}
    store.put("id-a", 0, 1, config, scalars, arrays, seed=2**70)
    (record,) = store.records()
    assert (record.run_id, record.config_index, record.replicate, record.seed) == ("id-a", 0, 1, 2**70)
    assert record.config == {"n": 10, "grid": [1, 2], "name": "x"}
    assert record.scalars == scalars
    assert [type(v) for v in record.scalars.values()] == [type(v) for v in scalars.values()]
    assert math.copysign(1.0, record.scalars["neg_zero"]) == -1.0
    assert record.arrays_file == store.arrays_dir / "id-a.npz"
    _assert_arrays_identical(record.load_arrays(), arrays)
    assert store.finished_ids() == {"id-a"}


def test_nan_scalar_round_trips(store):
    store.put("id-nan", 0, 0, {}, {"loss": float("nan")}, {})
    assert math.isnan(store.records()[0].scalars["loss"])


def test_run_without_arrays_has_no_file(store):
    store.put("id-b", 0, 0, {"n": 1}, {"v": 1.0}, {})
    (record,) = store.records()
    assert record.arrays_file is None and record.load_arrays() == {} and record.seed is None
    assert list(store.arrays_dir.iterdir()) == []


def test_records_are_ordered_by_config_index_then_replicate(store):
    slots = [(2, 0), (0, 1), (1, 1), (0, 0), (1, 0)]
    for config_index, replicate in slots:
        store.put(f"id-{config_index}-{replicate}", config_index, replicate, {"c": config_index}, {}, {})
    assert [(r.config_index, r.replicate) for r in store.records()] == sorted(slots)


def test_put_refuses_a_stored_id_or_slot_and_writes_nothing(store):
    store.put("id-a", 0, 0, {}, {"v": 1.0}, {"x": np.zeros(2)})
    with pytest.raises(ValueError, match="id-a .* already stored"):
        store.put("id-a", 5, 5, {}, {"v": 2.0}, {"x": np.ones(2)})
    with pytest.raises(ValueError, match=r"config_index=0, replicate=0\) is already stored"):
        store.put("id-other", 0, 0, {}, {"v": 2.0}, {"x": np.ones(2)})
    np.testing.assert_array_equal(store.records()[0].load_arrays()["x"], np.zeros(2))
    assert sorted(p.name for p in store.arrays_dir.iterdir()) == ["id-a.npz"]


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ((1, 0, 0, {}, {}, {}), TypeError, "run_id must be a str"),
        (("id", -1, 0, {}, {}, {}), ValueError, "config_index must be >= 0"),
        (("id", 0, 0.5, {}, {}, {}), TypeError, "replicate must be an integer"),
        (("id", 0, 0, [], {}, {}), TypeError, "config must be a mapping"),
        (("id", 0, 0, {}, {"s": "text"}, {}), TypeError, "'s' must be a real number"),
        (("id", 0, 0, {}, {}, {"a": [1.0]}), TypeError, "'a' must be a numpy.ndarray"),
        (("id", 0, 0, {}, {}, {"a": np.array([{}])}), TypeError, "object dtype"),
    ],
)
def test_put_rejects_bad_arguments_before_writing(store, arguments, error, match):
    with pytest.raises(error, match=match):
        store.put(*arguments)
    assert store.records() == [] and list(store.arrays_dir.iterdir()) == []


def test_put_rejects_negative_seed(store):
    with pytest.raises(ValueError, match="seed must be >= 0"):
        store.put("id", 0, 0, {}, {}, {}, seed=-1)


def test_arrays_are_written_before_the_row_and_atomically(store, monkeypatch):
    # A failure while writing the arrays leaves no row, no npz and no temporary file.
    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(store_module.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        store.put("id-a", 0, 0, {}, {"v": 1.0}, {"x": np.zeros(3)})
    assert store.records() == [] and list(store.arrays_dir.iterdir()) == []


def test_row_is_inserted_only_after_the_rename(store, monkeypatch):
    def failing_replace(source, target):
        raise OSError("rename failed")

    monkeypatch.setattr(store_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        store.put("id-a", 0, 0, {}, {"v": 1.0}, {"x": np.zeros(3)})
    assert store.records() == [] and list(store.arrays_dir.iterdir()) == []


def test_prune_arrays_removes_crash_leftovers_only(store):
    store.put("id-a", 0, 0, {}, {}, {"x": np.zeros(2)})
    temporary = store.arrays_dir / ".id-b.k3j2.tmp"
    orphan = store.arrays_dir / "id-c.npz"
    temporary.write_bytes(b"half")
    orphan.write_bytes(b"a complete npz whose row was never written")
    assert store.prune_arrays() == sorted([temporary, orphan])
    assert [p.name for p in store.arrays_dir.iterdir()] == ["id-a.npz"]
    assert store.prune_arrays() == []


def test_clear_removes_rows_and_arrays(store):
    store.put("id-a", 0, 0, {}, {"v": 1.0}, {"x": np.zeros(2)})
    store.put("id-b", 0, 1, {}, {"v": 2.0}, {})
    store.clear()
    assert store.records() == [] and store.finished_ids() == set()
    assert list(store.arrays_dir.iterdir()) == []
    store.put("id-a", 0, 0, {}, {"v": 3.0}, {})
    assert store.records()[0].scalars == {"v": 3.0}


def test_rows_persist_and_a_second_connection_reads_them(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultStore(path) as writer:
        writer.put("id-a", 0, 0, {"n": 1}, {"v": 1.5}, {"x": np.arange(3.0)})
        with ResultStore(path) as reader:
            assert reader.finished_ids() == {"id-a"}
    with ResultStore(path) as reopened:
        (record,) = reopened.records()
        assert record.scalars == {"v": 1.5}
        np.testing.assert_array_equal(record.load_arrays()["x"], np.arange(3.0))


def test_closed_store_refuses_work(tmp_path):
    with ResultStore(tmp_path / "results.sqlite") as opened:
        pass
    with pytest.raises(sqlite3.ProgrammingError):
        opened.records()
    opened.close()


def test_record_is_frozen(store):
    store.put("id-a", 0, 0, {}, {}, {})
    with pytest.raises(AttributeError):
        store.records()[0].replicate = 3


# --- to_csv ------------------------------------------------------------------------------


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_to_csv_is_tidy(store, tmp_path):
    store.put("id-10", 1, 0, {"n": 20, "eta": 0.5}, {"err": 0.25, "steps": 3, "ok": False}, {"x": np.zeros(2)})
    store.put("id-00", 0, 0, {"n": 10, "eta": 0.1}, {"err": 0.1 + 0.2, "steps": 4, "ok": True}, {})
    store.put("id-01", 0, 1, {"n": 10, "eta": 0.1}, {"err": 1e-300, "steps": 5, "ok": True}, {})
    out = tmp_path / "results.csv"
    store.to_csv(out)
    header, *rows = _read_csv(out)
    assert header == ["config_index", "replicate", "run_id", "n", "eta", "err", "steps", "ok"]
    assert [row[:3] for row in rows] == [["0", "0", "id-00"], ["0", "1", "id-01"], ["1", "0", "id-10"]]
    assert [float(row[5]) for row in rows] == [0.1 + 0.2, 1e-300, 0.25]
    assert rows[2] == ["1", "0", "id-10", "20", "0.5", "0.25", "3", "False"]


def test_to_csv_leaves_missing_keys_empty_and_writes_lists_as_json(store, tmp_path):
    store.put("id-a", 0, 0, {"n": 1, "grid": [1, 2]}, {"err": 0.5}, {})
    store.put("id-b", 1, 0, {"n": 2, "solver": "rk4"}, {"err": 0.25, "residual": 1e-9}, {})
    out = tmp_path / "results.csv"
    store.to_csv(out)
    header, first, second = _read_csv(out)
    assert header == ["config_index", "replicate", "run_id", "n", "grid", "solver", "err", "residual"]
    assert first == ["0", "0", "id-a", "1", "[1, 2]", "", "0.5", ""]
    assert second == ["1", "0", "id-b", "2", "", "rk4", "0.25", "1e-09"]


def test_to_csv_of_empty_store_has_header_only(store, tmp_path):
    store.to_csv(tmp_path / "results.csv")
    assert _read_csv(tmp_path / "results.csv") == [["config_index", "replicate", "run_id"]]


@pytest.mark.parametrize(
    ("config", "scalars", "clash"),
    [({"err": 1}, {"err": 0.5}, "err"), ({"replicate": 1}, {}, "replicate"), ({}, {"run_id": 1.0}, "run_id")],
)
def test_to_csv_refuses_duplicate_column_names(store, tmp_path, config, scalars, clash):
    store.put("id-a", 0, 0, config, scalars, {})
    with pytest.raises(ValueError, match=f"column names \\['{clash}'\\] occur twice"):
        store.to_csv(tmp_path / "results.csv")
    assert not os.path.exists(tmp_path / "results.csv")


def test_to_frame_has_the_csv_columns_and_values(tmp_path):
    pandas = pytest.importorskip("pandas")
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put("a", 0, 0, {"n": 1}, {"x": 0.5}, {})
        store.put("b", 1, 0, {"n": 2, "m": "s"}, {"x": 1.5, "y": 2.0}, {})
        frame = store.to_frame()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["config_index", "replicate", "run_id", "n", "m", "x", "y"]
    assert frame["x"].tolist() == [0.5, 1.5] and frame["n"].tolist() == [1, 2]
    assert pandas.isna(frame["y"][0]) and frame["y"][1] == 2.0


def test_to_frame_without_pandas_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    with ResultStore(tmp_path / "r.sqlite") as store, pytest.raises(ImportError, match=r"theorytk\[frame\]"):
        store.to_frame()


def test_csv_is_written_atomically(tmp_path, monkeypatch):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put("a", 0, 0, {"n": 1}, {"x": 0.5}, {})
        (tmp_path / "r.csv").write_text("old")
        monkeypatch.setattr("theorytk.store._cell", lambda value: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            store.to_csv(tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
