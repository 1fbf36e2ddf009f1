"""The README's "Check your own bound" section runs as written."""
import os
import re
from pathlib import Path

import matplotlib

README = Path(__file__).resolve().parents[2] / "README.md"


def _section_code(title):
    text = README.read_text()
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_check_your_own_bound_section_runs_as_written(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    blocks = _section_code("Check your own bound")
    assert len(blocks) == 5
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["verdicts"].all_hold
    assert not namespace["wrong"].holds
    assert namespace["MY_BOUND"].exponent("N") == -1
    assert (tmp_path / "verdict.json").is_file() and (tmp_path / "my_bound.png").stat().st_size > 0
