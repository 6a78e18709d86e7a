"""The controller's live progress on the terminal.

The watcher hands its status line over; this module decides how it reaches the
terminal:

* **not a TTY** (CI logs, ``--color=no``, ``TERM=dumb``: whatever makes pytest's
  terminal reporter write without markup): one plain line per
  ``--watcher-delay`` interval;
* **a TTY**: a one-line status footer below pytest's own output, redrawn in
  place about once a second and when the counts change, truncated to the
  terminal's width.

In both cases the status shares the terminal with pytest's main thread, so
every write to pytest's terminal writer goes through a lock here, and this
module tracks the column pytest's cursor is at.  The footer is drawn *below*
pytest's current line and the cursor is put back where pytest left it
(newline, cursor up, absolute column: this survives the screen scrolling,
unlike saving and restoring the cursor), so pytest never knows it is there;
it is erased (``ESC [ J``, from the cursor to the end of the screen) before
pytest writes anything and redrawn after — once per test result, which pytest
writes in ``pytest_runtest_logreport``.  A plain line written while pytest's
line is unfinished (progress dots) starts on a new line, and the next line is
indented to pytest's column so its dots and ``[100%]`` stay aligned.

Our own writes go to a duplicate of the terminal's file descriptor taken when
the run starts: without xdist the tests run in the controller, with pytest's
output capture redirecting the process's stdout, and the status must reach the
terminal, never a test's captured output.

At the end of the session the footer is erased before the terminal summary,
one final plain status line is written and pytest's writer is left as it was.
Without a terminal reporter (``-p no:terminal``) there is nothing to do.
"""
from __future__ import annotations

import os
import re
import threading
from typing import Callable

import pytest

PLUGIN_NAME = "hcp-progress"

ERASE_BELOW = "\x1b[J"   # erase from the cursor to the end of the screen
UP = "\x1b[1A"           # cursor up one line (same column)
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def to_column(col: int) -> str:
    """Cursor to column ``col`` (0-based) of the current line."""
    return f"\x1b[{col + 1}G"


def visible(text: str) -> str:
    return _ESCAPES.sub("", text)


class Progress:
    """The status on one pytest terminal writer (``tw``: ``write``, ``write_raw``, ``flush``,
    ``fullwidth``, ``width_of_current_line``).

    ``live``: draw a footer (a TTY) rather than plain lines.  ``out`` writes our own
    text to the terminal; by default it goes through the writer.
    """

    def __init__(self, tw, *, live: bool, out: Callable[[str], None] | None = None):
        self.tw = tw
        self.live = live
        self._out = out
        self.lock = threading.RLock()
        self.col = max(0, int(getattr(tw, "width_of_current_line", 0) or 0))  # where pytest's cursor is
        self.text = ""          # the latest status line
        self.shown = False      # the footer is on the screen
        self.active = False     # the footer may be drawn (from the test loop on)
        self.held = 0           # pytest is writing a test result: no footer until it is done
        self.finished = False
        self.pad = 0            # (plain lines) pytest's column, owed before its next write on the same line
        self._depth = 0         # inside a write of pytest's (write calls write_raw)
        self._fd: int | None = None
        self._orig_write = tw.write
        self._orig_write_raw = tw.write_raw
        tw.write = self._write
        tw.write_raw = self._write_raw

    @classmethod
    def for_reporter(cls, reporter) -> "Progress":
        """The progress on pytest's terminal reporter, writing to a duplicate of its file descriptor."""
        tw = reporter._tw  # pytest writes everything through this writer (no public accessor)
        stream = getattr(tw, "_file", None)
        try:
            fd = os.dup(stream.fileno())
        except (AttributeError, OSError, ValueError):  # not a file (an in-process run): through the writer
            fd = None
        live = bool(reporter.isatty) and bool(reporter.hasmarkup) and (fd is None or os.isatty(fd))
        if fd is None:
            return cls(tw, live=live)
        encoding = getattr(stream, "encoding", None) or "utf-8"
        progress = cls(tw, live=live, out=lambda text: _write_fd(fd, text.encode(encoding, errors="replace")))
        progress._fd = fd
        return progress

    # ------------------------------------------------ the watcher's side
    def report(self, text: str) -> None:
        """The status of one ``--watcher-delay`` interval: a plain line, or (live) the footer."""
        if self.live:
            self.refresh(text)
            return
        with self.lock:
            if not self.finished:
                self._line(text)

    def refresh(self, text: str) -> None:
        """The latest status for the footer (drawn at once when it may be)."""
        with self.lock:
            self.text = text
            self._draw()

    def finish(self, text: str | None = None) -> None:
        """Erase the footer, write ``text`` as the final plain status line, and leave pytest's writer as it was."""
        with self.lock:
            if self.finished:
                return
            self._erase()
            if text:
                self._line(text)
            self.finished = True
            for name, ours in (("write", self._write), ("write_raw", self._write_raw)):
                if vars(self.tw).get(name) == ours:
                    delattr(self.tw, name)
            if self._fd is not None:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
                self._fd = None
                self._out = None

    # ------------------------------------------------------ pytest's side
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session) -> None:
        with self.lock:
            self.active = True
            self._draw()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report):
        with self.lock:
            self._erase()
            self.held += 1
        try:
            return (yield)
        finally:
            with self.lock:
                self.held -= 1
                self._draw()

    def pytest_unconfigure(self, config) -> None:
        self.finish()  # in case the session never finished normally

    def _write(self, msg: str, **kwargs) -> None:
        self._pytest_writes(self._orig_write, msg, kwargs)

    def _write_raw(self, msg: str, **kwargs) -> None:
        self._pytest_writes(self._orig_write_raw, msg, kwargs)

    def _pytest_writes(self, write, msg: str, kwargs: dict) -> None:
        with self.lock:
            if self._depth or self.finished or not msg:  # write() calls write_raw(): once is enough
                return write(msg, **kwargs)
            self._depth += 1
            try:
                self._erase()
                if self.pad:  # pytest continues its line after a plain line of ours: keep its column
                    if not visible(msg).startswith(("\n", "\r")):
                        self._emit(" " * self.pad)
                    self.pad = 0
                write(msg, **kwargs)
                self._advance(msg)
                self._draw()
            finally:
                self._depth -= 1

    # ------------------------------------------------------------ output
    def _advance(self, msg: str) -> None:
        """Follow pytest's cursor over ``msg``."""
        text = visible(msg)
        if "\n" in text:
            self.col = 0
            text = text.rsplit("\n", 1)[1]
        if "\r" in text:
            self.col = 0
            text = text.rsplit("\r", 1)[1]
        self.col += len(text)

    def _emit(self, text: str) -> None:
        self.tw.flush()  # pytest's buffered output first
        if self._out is not None:
            try:
                self._out(text)
            except OSError:
                self._out = None  # the terminal is gone: nothing more to show
                self.live = False
        else:
            self._orig_write_raw(text, flush=True)

    def _erase(self) -> None:
        if self.shown:
            self._emit(ERASE_BELOW)
            self.shown = False

    def footer(self) -> str:
        """The footer's text, cut to the terminal's width (the last column is left free)."""
        width = max(1, int(self.tw.fullwidth))
        return self.text[: width - 1]

    def _draw(self) -> None:
        if not (self.live and self.active and self.text) or self.held or self.finished:
            return
        width = max(1, int(self.tw.fullwidth))
        erase = ERASE_BELOW if self.shown else ""
        self._emit(f"{erase}\n\r{self.footer()}{UP}{to_column(self.col % width)}")
        self.shown = True

    def _line(self, text: str) -> None:
        """A plain line of ours between pytest's lines; pytest's cursor column is kept."""
        self._erase()
        if self.live:  # a TTY: straight back to pytest's column, on the next line
            self._emit(("\n" if self.col else "") + text + "\n" + (to_column(self.col) if self.col else ""))
            return
        midline = self.col and not self.pad  # pytest's line is unfinished on the screen
        self._emit(("\n" if midline else "") + text + "\n")
        self.pad = self.col  # spaces, paid only if pytest goes on with that line


def _write_fd(fd: int, data: bytes) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


# ------------------------------------------------------------------ wiring
def attach(config: pytest.Config) -> Progress | None:
    """The controller's progress on pytest's terminal, registered as a plugin; None without a terminal."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return None
    progress = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if progress is None:
        progress = Progress.for_reporter(reporter)
        config.pluginmanager.register(progress, PLUGIN_NAME)
    return progress


def report(config: pytest.Config, text: str) -> None:
    progress = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if progress is not None:
        progress.report(text)


def finish(config: pytest.Config, text: str | None) -> None:
    progress = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if progress is not None:
        progress.finish(text)
