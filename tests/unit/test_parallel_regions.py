"""Every parallel kernel's parallel regions are its ``prange`` loops, and nothing else.

Inside a ``parallel=True`` function (and in the helpers inlined into it) numba turns array
expressions (``f[:] = 0``, ``a.sum()``, ``s[0] += g``, ``np.zeros``) into parallel regions of
their own. Each one wakes the sleeping OpenMP threads (18-110 us here with the PASSIVE wait
policy that :mod:`theorytk._jit` sets; ``benchmarks/MEASUREMENTS.md``): two such additions per row block in the BatchNorm
backward pass made a DFIV step with BatchNorm 2.6x slower than one without. Serial work
belongs in plain loops or in a serial kernel of its own. The check compiles every parallel
kernel afresh in a subprocess (an empty cache, so numba keeps its parfor diagnostics).
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.early   # 90 s of compiling in one subprocess


@pytest.fixture(scope="module")
def regions(tmp_path_factory):
    env = dict(os.environ, THEORYTK_CACHE_DIR=str(tmp_path_factory.mktemp("fresh_cache")), NUMBA_NUM_THREADS="2")
    run = subprocess.run([sys.executable, "-m", "tests.unit._parallel_regions_driver"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


def test_every_parallel_kernel_is_compiled_by_the_driver(regions):
    declared = sum(len(re.findall(r"@kernel\([^)]*parallel=True", path.read_text()))
                   for path in (ROOT / "theorytk").rglob("*.py"))
    assert len(regions) == declared                     # the driver found every kernel declared parallel
    assert [name for name, found in regions.items() if found is None] == []


def test_every_parallel_region_is_a_prange_loop(regions):
    stray = {name: [(patterns, line) for patterns, line in found if patterns != ["prange"]]
             for name, found in regions.items() if found}
    assert {name: found for name, found in stray.items() if found} == {}
    assert all(found for found in regions.values())   # each kernel has at least one prange
