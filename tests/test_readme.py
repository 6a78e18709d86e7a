"""README.md stays true: its options table and its test command match the code and .ci/run."""
from __future__ import annotations

import re
from pathlib import Path

from plugins.options import markdown_table

ROOT = Path(__file__).resolve().parent.parent


def test_options_table_is_current():
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Run the tests", 1)[1]
    command = re.search(r"```sh\n(.+?)\n```", section, re.S).group(1).strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines
