"""The cluster test's figures: kept per test, printed at the end of the run, saved as JSON.

pytest captures what tests print, so the figures are printed by cluster/conftest.py's
pytest_terminal_summary hook, which shows whether or not `-s` is given, and written to
test-output/cluster/results.json.
"""

import json
from pathlib import Path
from typing import Any

from harness.app import PROJECT_DIRECTORY

RESULTS_PATH = PROJECT_DIRECTORY / "test-output" / "cluster" / "results.json"

#: test name -> its figures, in the order the tests ran.
results: dict[str, Any] = {}
#: Lines for the end of the run (the throughput table).
summary_lines: list[str] = []


def record(name: str, figures: dict[str, Any]) -> None:
    results[name] = figures
    save()


def save() -> Path:
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")
    return RESULTS_PATH
