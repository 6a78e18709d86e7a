"""What the stand-in CLIs share: pflag's walk of a command line, Go's ``time.ParseDuration`` and the end of
a ``main`` (exit codes, a flushed standard output).  Kept small: every stand-in imports it at start-up."""
from __future__ import annotations

import re
import sys
from typing import Any, Callable, Iterator

_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
              "h": 3600.0}


def go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds (ValueError with Go's message)."""
    s, orig = text, text
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{orig}"')
    total = 0.0
    while s:
        m = re.match(r"\d*(\.\d*)?", s)
        if m.group(0) in ("", "."):
            raise ValueError(f'time: invalid duration "{orig}"')
        number = float(m.group(0))
        s = s[m.end():]
        u = re.match(r"[^\d.]*", s).group(0)
        if not u:
            raise ValueError(f'time: missing unit in duration "{orig}"')
        if u not in _DUR_UNITS:
            raise ValueError(f'time: unknown unit "{u}" in duration "{orig}"')
        total += number * _DUR_UNITS[u]
        s = s[len(u):]
    return sign * total


class ArgWalk:
    """pflag's walk of a command line: ``flags()`` yields the flag arguments (``--name[=v]``, ``-abc``) in
    order and collects the others in ``args`` (with everything after ``--``); while a flag is read, ``value()``
    takes the next argument as its value (``error`` when there is none)."""

    def __init__(self, argv: list[str], error: type[Exception]):
        self.argv, self.error, self.i = argv, error, 0
        self.args: list[str] = []

    def flags(self) -> Iterator[str]:
        while self.i < len(self.argv):
            a = self.argv[self.i]
            self.i += 1
            if a == "--":
                self.args.extend(self.argv[self.i:])
                return
            if a.startswith("-") and len(a) > 1:
                yield a
            else:
                self.args.append(a)

    def value(self, shown: str) -> str:
        """The next argument, the value of the flag ``shown`` (``--name``, ``'c' in -c``)."""
        if self.i >= len(self.argv):
            raise self.error(f"flag needs an argument: {shown}")
        self.i += 1
        return self.argv[self.i - 1]

    def value_if_any(self) -> str:
        """The next argument if it can be a value (neither a flag nor empty), else ''."""
        nxt = self.argv[self.i] if self.i < len(self.argv) else ""
        if nxt.startswith("-"):
            return ""
        self.i += 1 if nxt else 0
        return nxt


def run_main(run: Callable[[], int], handlers: dict[type[Exception], Callable[[Any], int]]) -> int:
    """A stand-in's main: the exit code of ``run()``, else the one the first handler of its exception (in
    order) gives, 130 for ^C; then standard output is flushed (a reader that went away is not an error)."""
    try:
        code = run()
    except KeyboardInterrupt:
        code = 130
    except tuple(handlers) as exc:
        code = next(handle for kind, handle in handlers.items() if isinstance(exc, kind))(exc)
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass
    return code
