"""Every option refuses a bad value the same way: a one-line usage error (exit 4) before anything exists.

tests/test_options.py holds the hand-written table of bad invocations and combinations; this file
derives one bad value for every option from its own parser, so an option added later is covered too.
"""
from __future__ import annotations

import pytest

from plugins.options import OPTIONS

CANDIDATES = ["", "a b", "-1", "abc", "0", "101", "1.5x", "../x", "A B", "'unbalanced"]
FREE_TEXT = set()   # options that take any text (none today: --wildcard-options rejects unbalanced quotes)


def bad_value(opt) -> str | None:
    for value in (["maybe"] if opt.is_flag else CANDIDATES):
        try:
            opt.parse(opt.flag, value)
        except pytest.UsageError:
            return value
    return None


def test_every_option_has_a_value_its_parser_refuses():
    assert [opt.flag for opt in OPTIONS if bad_value(opt) is None and opt.flag not in FREE_TEXT] == []


@pytest.mark.parametrize("opt", [o for o in OPTIONS if o.flag not in FREE_TEXT], ids=lambda o: o.flag)
def test_bad_value_is_a_one_line_usage_error(scale_project, monkeypatch, opt):
    value = bad_value(opt)
    run_path = scale_project.path / "run"
    if opt.is_flag:                      # a flag takes no value on the command line: use its environment variable
        monkeypatch.setenv(opt.envvar, value)
        args = []
    else:
        args = [f"{opt.flag}={value}"]
    if opt.dest != "path":
        args += ["--path", str(run_path)]
    result = scale_project.runpytest_inprocess("tests_scale", *args)
    err = result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and opt.flag in lines[0], err
    assert "Traceback" not in err + result.stdout.str()
    assert not run_path.exists(), "nothing may be created on bad input"
