"""The result store: one SQLite row per finished run, its arrays in an ``.npz`` beside it.

A sweep's results live in ``<dir>/<name>.sqlite`` (table ``runs``) and
``<dir>/arrays/<run_id>.npz``. A run is keyed by :func:`run_id`, a hash of its
configuration, replicate index and code version, so a resumed sweep recognises the runs
it has already done.

Crash safety
------------
Only the sweep driver writes, one finished run at a time, in this order:

1. the run's arrays go to a temporary file in ``arrays/``, which is flushed, fsynced and
   renamed onto ``<run_id>.npz`` (``os.replace`` is atomic), then the directory is fsynced;
2. the row is inserted in one transaction.

A row therefore never names an array file that is missing or half written. A driver
killed between the two steps leaves a complete ``.npz`` without a row (an orphan) or a
temporary file; neither is ever read, and :meth:`ResultStore.prune_arrays` removes both.

The database runs in WAL mode with ``synchronous=FULL``. Surviving ``SIGKILL`` of the
driver needs only WAL (a committed transaction is in the WAL file, i.e. in the operating
system's cache, when ``COMMIT`` returns; ``synchronous=NORMAL`` would do). ``FULL`` also
fsyncs the WAL at every commit, so a finished run survives a power cut or an operating
system crash as well. A run costs far more than the fsync, and readers (a notebook
watching a sweep) never block the writer in WAL mode.

One store per directory: two stores in one directory would share ``arrays/``.
"""
import contextlib
import csv
import dataclasses
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from theorytk import _validate

__all__ = ["Record", "ResultStore", "atomic_open", "run_id", "split_result"]

_FIXED_COLUMNS = ("config_index", "replicate", "run_id")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id       TEXT PRIMARY KEY,
    config_index INTEGER NOT NULL,
    replicate    INTEGER NOT NULL,
    seed         TEXT,
    config       TEXT NOT NULL,
    scalars      TEXT NOT NULL,
    arrays       TEXT,
    finished     TEXT NOT NULL,
    UNIQUE (config_index, replicate)
)
"""


def _json_value(value, where):
    """Return ``value`` as plain JSON types (numpy scalars and arrays converted).

    Raises ``TypeError`` naming ``where`` for anything JSON cannot hold faithfully.
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        return _json_mapping(value, where)
    raise TypeError(
        f"{where} must be None, bool, int, float, str, a list/tuple/dict of those, or a numpy "
        f"scalar or array; got {value!r} of type {type(value).__name__}"
    )


def _json_mapping(mapping, where):
    """Return ``mapping`` as a ``dict`` of plain JSON values with ``str`` keys."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{where} must be a mapping, got {type(mapping).__name__}")
    out = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise TypeError(f"{where} keys must be str, got {key!r} of type {type(key).__name__}")
        out[key] = _json_value(value, f"{where}[{key!r}]")
    return out


def _dumps(value, *, canonical=False):
    """JSON text of plain values; ``canonical`` sorts keys and drops spaces (for hashing).

    Floats are written by ``repr``, which reads back to the same bits (NaN and infinities as
    the JSON extensions ``NaN``/``Infinity`` that :func:`json.loads` accepts).
    """
    if canonical:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return json.dumps(value, ensure_ascii=False)


def split_result(result):
    """Split a run's result into storable scalars and arrays.

    Parameters
    ----------
    result : Mapping[str, real or numpy.ndarray]
        What a sweep function returned.

    Returns
    -------
    scalars : dict[str, bool | int | float]
        The real-number entries as Python ``bool``, ``int`` or ``float`` (NumPy scalars
        converted by ``.item()``, which is exact), i.e. exactly as :meth:`ResultStore.records`
        reads them back.
    arrays : dict[str, numpy.ndarray]
        The ``numpy.ndarray`` entries (any shape, including 0-d), unchanged.

    Raises
    ------
    TypeError
        If ``result`` is not a mapping with non-empty ``str`` keys, or an entry is neither a
        real number nor an array ``.npz`` can hold without pickling (e.g. a complex number,
        a string, a list, an object array).
    """
    scalars, arrays = {}, {}
    for name, value in _items("result", result):
        if isinstance(value, np.ndarray):
            arrays[name] = _check_array(name, value)
        else:
            scalars[name] = _plain_scalar(name, value)
    return scalars, arrays


def _plain_scalar(name, value):
    """Return a scalar result as a Python ``bool``, ``int`` or ``float``; ``TypeError`` if not real."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    raise TypeError(
        f"scalar result {name!r} must be a real number (Python or NumPy) or a numpy.ndarray, "
        f"got {value!r} of type {type(value).__name__}"
    )


def _check_array(name, value):
    """Return ``value`` if it is a NumPy array that ``.npz`` stores without pickling."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"array result {name!r} must be a numpy.ndarray, got {type(value).__name__}")
    if value.dtype.hasobject:
        raise TypeError(f"array result {name!r} must not have an object dtype, got {value.dtype}")
    return value


def _string(name, value):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {value!r} of type {type(value).__name__}")
    return value


def run_id(config, replicate, code_version):
    """Return the identifier of one run: a hash of what determines its result.

    The identifier is the first 24 hex digits (96 bits) of the SHA-256 of the canonical
    JSON text (sorted keys, no spaces, NumPy scalars and arrays as plain numbers and lists)
    of ``{"code_version": code_version, "config": config, "replicate": replicate}``. Key
    order does not matter; ``1`` and ``1.0`` are different values and give different ids.

    Parameters
    ----------
    config : Mapping[str, object]
        The run's configuration (JSON-like values).
    replicate : int
        Replicate index, ``>= 0``.
    code_version : str
        Version of the code that computes the run; a new version gives new ids, so results
        of old code are never mistaken for new ones.

    Returns
    -------
    str
        24 lowercase hex digits.

    Raises
    ------
    TypeError, ValueError
        For a config that is not a mapping of JSON-like values with ``str`` keys, a negative
        or non-integer replicate, or a non-``str`` code version.
    """
    payload = {
        "code_version": _string("code_version", code_version),
        "config": _json_mapping(config, "config"),
        "replicate": _validate.integer("replicate", replicate, minimum=0),
    }
    return hashlib.sha256(_dumps(payload, canonical=True).encode("ascii")).hexdigest()[:24]


@dataclasses.dataclass(frozen=True)
class Record:
    """One finished run as stored.

    Attributes
    ----------
    run_id : str
        See :func:`run_id`.
    config_index, replicate : int
        Position of the run in its sweep.
    config : dict
        The configuration, as JSON values (tuples read back as lists).
    scalars : dict[str, bool | int | float]
        Scalar results.
    arrays_file : pathlib.Path or None
        The run's ``.npz``, or ``None`` when it returned no arrays; read with
        :meth:`load_arrays`.
    seed : int or None
        Root seed of the sweep that ran it (its stream is
        ``run_seed_sequence(seed, config_index, replicate)``), ``None`` if not recorded.
    finished : str
        UTC time (ISO 8601) at which the row was written.
    """

    run_id: str
    config_index: int
    replicate: int
    config: dict
    scalars: dict
    arrays_file: Path | None
    seed: int | None
    finished: str

    def load_arrays(self):
        """Return the run's arrays, ``{name: numpy.ndarray}`` (empty if it had none)."""
        if self.arrays_file is None:
            return {}
        with np.load(self.arrays_file, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}


_BUSY_SECONDS = 30.0


def _when_unlocked(statement):
    """Run ``statement()``, retrying for up to ``_BUSY_SECONDS`` while SQLite says the database is locked.

    Switching a new database to WAL needs an exclusive lock, and SQLite refuses it at once,
    without its busy handler, when another process holds a lock at that moment (e.g. a reader
    opening the store a run is creating: seen as "database is locked" in a test that polls a
    driver's store).
    """
    deadline = time.monotonic() + _BUSY_SECONDS
    while True:
        try:
            return statement()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class ResultStore:
    """A SQLite file of finished runs, with their arrays in ``<dir>/arrays/``.

    Parameters
    ----------
    path : str or os.PathLike
        The database file; it and its directory are created if missing.

    Notes
    -----
    Only one process (the sweep driver) may write. Others may read at the same time.
    See the module docstring for the crash-safety argument. Use as a context manager or
    call :meth:`close`.

    Examples
    --------
    >>> with ResultStore(tmp / "results.sqlite") as store:  # doctest: +SKIP
    ...     store.put(rid, 0, 0, {"n": 10}, {"error": 0.1}, {"path": x})
    ...     store.to_csv(tmp / "results.csv")
    """

    def __init__(self, path):
        self.path = Path(path)
        self.arrays_dir = self.path.parent / "arrays"
        self.arrays_dir.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path, timeout=_BUSY_SECONDS)
        mode = _when_unlocked(lambda: self._connection.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        if mode.lower() != "wal":
            self._connection.close()
            raise OSError(f"{self.path}: SQLite could not use WAL journaling here (got {mode!r})")
        self._connection.execute("PRAGMA synchronous=FULL")
        with self._connection:
            self._connection.execute(_SCHEMA)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return f"ResultStore({str(self.path)!r})"

    def close(self):
        """Close the database connection (idempotent)."""
        self._connection.close()

    def finished_ids(self):
        """Return the set of stored run ids."""
        return {row[0] for row in self._connection.execute("SELECT run_id FROM runs")}

    def put(self, run_id, config_index, replicate, config, scalars, arrays, *, seed=None):
        """Store one finished run: its arrays atomically first, then its row.

        Parameters
        ----------
        run_id : str
            The run's identifier (see :func:`run_id`); must not be stored yet.
        config_index, replicate : int
            Position of the run in its sweep, ``>= 0``; no other stored run may have the same
            pair.
        config : Mapping[str, object]
            The run's configuration (JSON-like values).
        scalars : Mapping[str, real]
            Scalar results (Python or NumPy reals).
        arrays : Mapping[str, numpy.ndarray]
            Array results (no object dtypes); empty for none.
        seed : int, optional
            Root seed of the sweep, recorded so a resumed sweep can check that it continues
            the same random streams.

        Raises
        ------
        TypeError, ValueError
            For malformed arguments, or a run id or ``(config_index, replicate)`` already
            stored; nothing is written then.
        """
        run_id = _string("run_id", run_id)
        config_index = _validate.integer("config_index", config_index, minimum=0)
        replicate = _validate.integer("replicate", replicate, minimum=0)
        config_text = _dumps(_json_mapping(config, "config"))
        scalars_text = _dumps({name: _plain_scalar(name, value) for name, value in _items("scalars", scalars)})
        arrays = {name: _check_array(name, value) for name, value in _items("arrays", arrays)}
        seed_text = None if seed is None else str(_validate.integer("seed", seed, minimum=0))
        clash = self._connection.execute(
            "SELECT run_id, config_index, replicate FROM runs"
            " WHERE run_id = ? OR (config_index = ? AND replicate = ?)",
            (run_id, config_index, replicate),
        ).fetchone()
        if clash is not None:
            raise ValueError(
                f"cannot store run {run_id} at (config_index={config_index}, replicate={replicate}): "
                f"run {clash[0]} at (config_index={clash[1]}, replicate={clash[2]}) is already stored"
            )
        arrays_name = self._write_arrays(run_id, arrays) if arrays else None
        finished = datetime.now(timezone.utc).isoformat()
        with self._connection:
            self._connection.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, config_index, replicate, seed_text, config_text, scalars_text, arrays_name, finished),
            )

    def _write_arrays(self, run_id, arrays):
        """Write ``arrays`` to ``arrays/<run_id>.npz`` atomically and durably; return the name."""
        name = f"{run_id}.npz"
        handle = tempfile.NamedTemporaryFile(dir=self.arrays_dir, prefix=f".{run_id}.", suffix=".tmp", delete=False)
        try:
            with handle:
                np.savez(handle, allow_pickle=False, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(handle.name, self.arrays_dir / name)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        _fsync_directory(self.arrays_dir)
        return name

    def records(self):
        """Return every stored run as a :class:`Record`, ordered by (config_index, replicate)."""
        rows = self._connection.execute(
            "SELECT run_id, config_index, replicate, seed, config, scalars, arrays, finished"
            " FROM runs ORDER BY config_index, replicate"
        )
        return [
            Record(
                run_id=rid,
                config_index=config_index,
                replicate=replicate,
                config=json.loads(config),
                scalars=json.loads(scalars),
                arrays_file=None if arrays is None else self.arrays_dir / arrays,
                seed=None if seed is None else int(seed),
                finished=finished,
            )
            for rid, config_index, replicate, seed, config, scalars, arrays, finished in rows
        ]

    def to_csv(self, path):
        """Write the runs as a tidy CSV: one row per config x replicate.

        Columns are ``config_index, replicate, run_id``, then the configuration keys, then
        the scalar result keys, each in order of first appearance; a run lacking a key has an
        empty cell. Floats are written by ``repr`` (they read back exactly); list or dict
        config values as JSON. Arrays are not written (they stay in ``arrays/``).

        Parameters
        ----------
        path : str or os.PathLike
            Output file, overwritten.

        Raises
        ------
        ValueError
            If a configuration key and a scalar name coincide, or either is one of the fixed
            columns: the table would have two columns of one name.
        """
        records = self.records()
        config_keys = _ordered_union(record.config for record in records)
        scalar_keys = _ordered_union(record.scalars for record in records)
        columns = [*_FIXED_COLUMNS, *config_keys, *scalar_keys]
        clashes = sorted({name for name in columns if columns.count(name) > 1})
        if clashes:
            raise ValueError(
                f"cannot write {path}: column names {clashes} occur twice among "
                f"{list(_FIXED_COLUMNS)}, config keys {config_keys} and scalar keys {scalar_keys}"
            )
        with atomic_open(path, newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for record in records:
                writer.writerow(
                    [
                        record.config_index,
                        record.replicate,
                        record.run_id,
                        *(_cell(record.config.get(key)) for key in config_keys),
                        *(_cell(record.scalars.get(key)) for key in scalar_keys),
                    ]
                )

    def delete(self, run_ids):
        """Delete the rows of ``run_ids`` (their array files become orphans for :meth:`prune_arrays`)."""
        with self._connection:
            self._connection.executemany("DELETE FROM runs WHERE run_id = ?", [(_string("run_id", r),) for r in run_ids])

    def to_frame(self):
        """Return the runs as a ``pandas.DataFrame``, one row per config x replicate.

        The columns are those of :meth:`to_csv` (``config_index, replicate, run_id``, the
        configuration keys, the scalar result keys; missing entries are NaN/None). List or
        dict config values stay Python objects. Needs pandas (``pip install theorytk[frame]``).

        Raises
        ------
        ImportError
            If pandas is not installed.
        """
        try:
            import pandas
        except ImportError as exc:
            raise ImportError("ResultStore.to_frame needs pandas, which is not installed: "
                              "pip install theorytk[frame] (or pip install pandas)") from exc
        records = self.records()
        config_keys = _ordered_union(record.config for record in records)
        scalar_keys = _ordered_union(record.scalars for record in records)
        columns = [*_FIXED_COLUMNS, *config_keys, *scalar_keys]
        rows = [[record.config_index, record.replicate, record.run_id,
                 *(record.config.get(key) for key in config_keys),
                 *(record.scalars.get(key, np.nan) for key in scalar_keys)] for record in records]
        return pandas.DataFrame(rows, columns=columns)

    def clear(self):
        """Delete every run and every file in ``arrays/``.

        Rows go first, so that an interruption leaves only unreferenced files, which
        :meth:`prune_arrays` removes.
        """
        with self._connection:
            self._connection.execute("DELETE FROM runs")
        for path in self.arrays_dir.iterdir():
            path.unlink()

    def prune_arrays(self):
        """Remove temporary and unreferenced files from ``arrays/``; return their paths.

        These are what a driver killed mid-``put`` leaves behind (see the module docstring).
        Call it only while no driver is writing to this store: a running driver's temporary
        file would be taken from under it.
        """
        referenced = {row[0] for row in self._connection.execute("SELECT arrays FROM runs WHERE arrays IS NOT NULL")}
        removed = sorted(path for path in self.arrays_dir.iterdir() if path.name not in referenced)
        for path in removed:
            path.unlink()
        return removed


def _items(name, mapping):
    """Items of a ``Mapping`` with ``str`` keys, for ``put``'s result arguments."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{name} must be a mapping, got {type(mapping).__name__}")
    for key in mapping:
        if not isinstance(key, str) or not key:
            raise TypeError(f"{name} keys must be non-empty str, got {key!r}")
    return mapping.items()


def _ordered_union(mappings):
    """Keys of ``mappings`` in order of first appearance."""
    return list(dict.fromkeys(key for mapping in mappings for key in mapping))


def _cell(value):
    """A CSV cell: empty for a missing value, JSON for a list or dict, else ``str``."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return _dumps(value)
    return value


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """Open a temporary file beside ``path``; on success fsync it and rename it onto ``path``.

    A reader, or a run killed mid-write, sees the old file or the complete new one, never a
    truncated one. On an exception the temporary file is removed and ``path`` is untouched.
    Text mode defaults to UTF-8.
    """
    path = Path(path)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _fsync_directory(path):
    """Make a rename inside ``path`` durable (no-op where directories cannot be opened)."""
    if os.name != "posix":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
