"""Run a test sweep into a store, to be killed with SIGKILL mid-sweep by ``test_sweep``.

``python -m tests.unit._sweep_driver STORE SEED``: the shared sweep, serially.
``python -m tests.unit._sweep_driver STORE SEED PID_FILE``: two process-pool workers that write
their PIDs to PID_FILE and sleep (the driver's death must take them with it).
"""
import sys

from tests.unit._sweep_fns import CONFIGS, REPLICATES, report_pid_and_sleep, slow_moments
from theorytk.store import ResultStore
from theorytk.sweep import make_executor, sweep

if __name__ == "__main__":
    path, seed = sys.argv[1], int(sys.argv[2])
    with ResultStore(path) as store:
        if len(sys.argv) > 3:
            with make_executor("process", workers=2) as executor:
                sweep(report_pid_and_sleep, [{"pid_file": sys.argv[3], "k": k} for k in range(2)], 1, seed=seed,
                      store=store, executor=executor, progress=False)
        else:
            sweep(slow_moments, CONFIGS, REPLICATES, seed=seed, store=store, progress=False)
