"""Sweep functions for the store/sweep tests.

They live at module level in an importable module so that process pools and dask workers
can unpickle them by reference.
"""
import time

import numpy as np

from theorytk.random import generator

#: A small sweep shared by the tests and by the SIGKILL driver (``_sweep_driver``).
CONFIGS = ({"n": 5, "scale": 1.0}, {"n": 8, "scale": 0.5}, {"n": 3, "scale": 2.0})
REPLICATES = 4


def noisy_moments(config, seed):
    """Draw ``n`` scaled normals; return float, int and bool scalars and two arrays."""
    x = config["scale"] * generator(seed).standard_normal(config["n"])
    return {
        "mean": x.mean(),
        "max": float(x.max()),
        "n_positive": np.int64(np.count_nonzero(x > 0)),
        "all_small": bool(np.all(np.abs(x) < 10)),
        "sample": x,
        "cumsum32": np.cumsum(x).astype(np.float32),
    }


def slow_moments(config, seed):
    """:func:`noisy_moments` after a pause, so that a driver can be killed mid-sweep."""
    time.sleep(0.05)
    return noisy_moments(config, seed)


def report_pid_and_sleep(config, seed):
    """Append this worker's PID to ``config["pid_file"]``, then sleep a minute (a run the driver's death must cut)."""
    import os

    with open(config["pid_file"], "a") as handle:
        handle.write(f"{os.getpid()}\n")
    time.sleep(60.0)
    return {"pid": os.getpid()}


def refuse_first_config(config, seed):
    """:func:`noisy_moments`, but raise on ``CONFIGS[0]``: proves a resume skipped it."""
    if config == CONFIGS[0]:
        raise AssertionError("a stored run of CONFIGS[0] was run again")
    return noisy_moments(config, seed)


def fail_on_small_n(config, seed):
    """Raise ``RuntimeError`` for ``n < 4``, else :func:`noisy_moments`."""
    if config["n"] < 4:
        raise RuntimeError(f"n={config['n']} is too small")
    return noisy_moments(config, seed)


def text_result(config, seed):
    """Return a string, which is neither a real number nor an array."""
    return {"label": "not a number"}


def list_result(config, seed):
    """Return something that is not a mapping."""
    return [1.0, 2.0]


def open_store_at_once(path, start):
    """Wait until ``start`` (a ``time.time()`` instant), then open and close the store at ``path``: a race."""
    from theorytk.store import ResultStore

    while time.time() < start:
        pass
    with ResultStore(path):
        pass
    return True
