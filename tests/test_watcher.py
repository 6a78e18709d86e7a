"""The controller's watcher (state per cluster, slowest installing, watcher.jsonl) and its live progress on
the terminal (plugins/progress.py): unit tests against fake HostedClusters and a fake terminal writer, and
one run of the scale tests in a pseudo-terminal."""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from plugins.progress import ERASE_BELOW, UP, Progress, to_column
from plugins.rundir import epoch_seconds
from plugins.watcher import Snapshot, Watcher, classify, format_age

T0 = dt.datetime(2026, 11, 24, 10, 0, 0, tzinfo=dt.timezone.utc).timestamp()
IMAGE = "quay.io/openshift-release-dev/ocp-release:4.17.3-x86_64"


def stamp(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hc(name: str, created: float, *, ready: bool = False, failed: bool = False, deleting: bool = False) -> dict:
    conditions = [{"type": "Available", "status": "True" if ready else "False", "reason": "AsExpected"},
                  {"type": "Progressing", "status": "False" if ready else "True", "reason": "AsExpected"}]
    if failed:
        conditions.append({"type": "ValidConfiguration", "status": "False", "reason": "InvalidConfiguration",
                           "message": "bad"})
    history = [{"state": "Completed", "image": IMAGE, "completionTime": stamp(created + 300)}] if ready else []
    meta = {"name": name, "creationTimestamp": stamp(created)}
    if deleting:
        meta["deletionTimestamp"] = stamp(created + 600)
    return {"metadata": meta, "status": {"conditions": conditions,
                                         "version": {"desired": {"image": IMAGE}, "history": history}}}


def watcher(tmp_path: Path, requested: int = 6) -> Watcher:
    return Watcher("unused-kubeconfig", "clusters", "run-uuid", 60.0, requested, tmp_path / "watcher.jsonl")


# ------------------------------------------------------------------ watcher
def test_classify_each_state():
    assert classify(hc("a", T0)) == "installing"
    assert classify(hc("a", T0, ready=True)) == "ready"
    assert classify(hc("a", T0, failed=True)) == "failed"
    assert classify(hc("a", T0, ready=True, deleting=True)) == "deleting"
    assert classify(hc("a", T0, failed=True, deleting=True)) == "deleting"


def test_ages_are_formatted_like_a_clock():
    assert [format_age(s) for s in (0, 7, 59, 60, 724, 3599, 3600, 3723, 90061)] == \
        ["0s", "7s", "59s", "1m00s", "12m04s", "59m59s", "1h00m00s", "1h02m03s", "25h01m01s"]
    assert format_age(-3) == "0s"  # the API's clock ahead of ours
    assert epoch_seconds("2026-11-24T10:00:00Z") == T0
    assert epoch_seconds(None) is None and epoch_seconds("not a time") is None and epoch_seconds(True) is None


def test_counts_gone_and_the_three_oldest_installing_clusters(tmp_path):
    w = watcher(tmp_path)
    w.apply({"c1": hc("c1", T0 + 100), "c2": hc("c2", T0), "c3": hc("c3", T0 + 50),
             "c4": hc("c4", T0 + 10), "c5": hc("c5", T0 - 500, ready=True), "c6": hc("c6", T0 + 5)})
    # c6 is destroyed, c4 becomes ready, c3 fails: the watch no longer lists c6
    w.apply({"c1": hc("c1", T0 + 100), "c2": hc("c2", T0), "c3": hc("c3", T0 + 50, failed=True),
             "c4": hc("c4", T0 + 10, ready=True), "c5": hc("c5", T0 - 500, ready=True, deleting=True),
             "c7": hc("c7", T0 + 30), "c8": hc("c8", T0 + 30)})
    snap = w.snapshot(now=T0 + 724)
    assert snap.counts == {"installing": 4, "ready": 1, "failed": 1, "deleting": 1}
    assert snap.gone == 1
    # oldest first; equal creation times by name; c5 is older but not installing
    assert snap.slowest == (("c2", 724), ("c7", 694), ("c8", 694))
    assert w.counts() == snap.counts


def test_the_watch_set_changes_one_object_at_a_time_and_only_that_one_is_classified_again(tmp_path, monkeypatch):
    import plugins.watcher as watcher_module
    classified: list[str] = []
    real = watcher_module.classify
    monkeypatch.setattr(watcher_module, "classify", lambda obj: classified.append(obj["metadata"]["name"]) or real(obj))
    w = watcher(tmp_path, requested=300)
    objs = {f"c{i}": hc(f"c{i}", T0 + i) for i in range(300)}   # the dict Kube.wait_for keeps and hands over
    w.apply(objs)
    assert len(classified) == 300
    classified.clear()
    objs["c7"] = hc("c7", T0 + 7, ready=True)                    # a MODIFIED event replaces one object
    w.apply(objs)
    objs.pop("c8")                                                # a DELETED event
    w.apply(objs)
    assert classified == ["c7"]
    assert w.counts() == {"installing": 298, "ready": 1, "failed": 0, "deleting": 0}
    assert w.snapshot(now=T0).gone == 1
    objs["c8"] = hc("c8", T0 + 8, deleting=True)                 # listed again (a relist): no longer gone
    w.apply(objs)
    assert w.snapshot(now=T0).gone == 0 and w.counts()["deleting"] == 1
    w.apply({name: dict(obj) for name, obj in objs.items()})      # a relist: new objects, same states
    assert w.counts() == {"installing": 298, "ready": 1, "failed": 0, "deleting": 1}


def test_the_status_line_keeps_the_counts_fragment_and_names_the_slowest(tmp_path):
    w = watcher(tmp_path, requested=50)
    w.apply({"perfsc-x7k-0001": hc("perfsc-x7k-0001", T0), "perfsc-x7k-0002": hc("perfsc-x7k-0002", T0 + 6),
             "perfsc-x7k-0003": hc("perfsc-x7k-0003", T0 + 4, ready=True)})
    w.apply({"perfsc-x7k-0001": hc("perfsc-x7k-0001", T0), "perfsc-x7k-0002": hc("perfsc-x7k-0002", T0 + 6)})
    assert w.line(now=T0 + 724) == (
        "[watcher 10:12:04] installing 2, ready 0, failed 0, deleting 0 (of 50 requested), gone 1; "
        "slowest: perfsc-x7k-0001 12m04s, perfsc-x7k-0002 11m58s")
    w.apply({})
    assert w.line(now=T0 + 3600) == \
        "[watcher 11:00:00] installing 0, ready 0, failed 0, deleting 0 (of 50 requested), gone 3"


def test_each_report_appends_one_jsonl_record_and_emits_its_line(tmp_path):
    lines: list[str] = []
    w = Watcher("unused-kubeconfig", "clusters", "run-uuid", 60.0, 3, tmp_path / "watcher.jsonl", emit=lines.append)
    w.apply({"a": hc("a", T0), "b": hc("b", T0 + 1, ready=True)})
    first = w.report()
    w.apply({"a": hc("a", T0)})
    w.report(emit=False)
    records = [json.loads(x) for x in (tmp_path / "watcher.jsonl").read_text().splitlines()]
    assert lines == [first] and len(records) == 2
    assert set(records[0]) == {"time", "installing", "ready", "failed", "deleting", "gone", "requested", "slowest"}
    assert (records[0]["installing"], records[0]["ready"], records[0]["gone"]) == (1, 1, 0)
    assert (records[1]["installing"], records[1]["ready"], records[1]["gone"]) == (1, 0, 1)
    assert records[1]["requested"] == 3
    assert [s["name"] for s in records[1]["slowest"]] == ["a"]
    assert records[1]["slowest"][0]["age_s"] >= 0 and isinstance(records[1]["slowest"][0]["age_s"], int)
    snap = Snapshot(when=T0, counts={"installing": 1, "ready": 0, "failed": 0, "deleting": 0}, gone=0, requested=1,
                    slowest=(("a", 61),))
    assert snap.record() == {"time": "2026-11-24T10:00:00.000Z", "installing": 1, "ready": 0, "failed": 0,
                             "deleting": 0, "gone": 0, "requested": 1, "slowest": [{"name": "a", "age_s": 61}]}


def test_a_live_display_is_refreshed_every_tick_and_at_once_when_the_counts_change(tmp_path):
    shown: list[str] = []
    w = Watcher("unused-kubeconfig", "clusters", "run-uuid", 3600.0, 2, tmp_path / "watcher.jsonl",
                live=shown.append, tick=0.05)
    w._watch = lambda: None  # no API: the test feeds the watch events
    w.start()
    try:
        deadline = time.monotonic() + 10
        while len(shown) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(shown) >= 3 and "installing 0," in shown[-1]
        w.tick = 3600.0  # from now on only a change of the counts refreshes
        time.sleep(0.2)
        before = len(shown)
        w.apply({"a": hc("a", T0)})
        while len(shown) == before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "installing 1," in shown[-1]
    finally:
        w.stop()
    assert not (tmp_path / "watcher.jsonl").exists()  # no interval has passed: no report


# --------------------------------------------------------- terminal footer
class FakeWriter:
    """Stands in for pytest's TerminalWriter: records what reaches the terminal."""

    def __init__(self, width: int = 60):
        self.fullwidth = width
        self.out: list[str] = []
        self._current_line = ""

    @property
    def width_of_current_line(self) -> int:
        return len(self._current_line)

    def write(self, msg: str, *, flush: bool = False, **markup) -> None:
        if msg:
            self._current_line = msg.rsplit("\n", 1)[-1] if "\n" in msg else self._current_line + msg
            self.write_raw(msg, flush=flush)

    def write_raw(self, msg: str, *, flush: bool = False) -> None:
        self.out.append(msg)

    def line(self, s: str = "", **markup) -> None:
        self.write(s, **markup)
        self.write("\n")

    def flush(self) -> None:
        pass

    def text(self) -> str:
        return "".join(self.out)


def footer(text: str, col: int) -> str:
    return f"\n\r{text}{UP}{to_column(col)}"


def logreport(progress: Progress, write) -> None:
    """pytest's pytest_runtest_logreport call with ``write`` as the terminal reporter's part."""
    hook = progress.pytest_runtest_logreport(report=None)
    next(hook)
    write()
    with pytest.raises(StopIteration):
        hook.send(None)


def test_the_footer_is_erased_before_a_test_result_and_redrawn_after_it():
    tw = FakeWriter(width=60)
    progress = Progress(tw, live=True)
    tw.write("2 workers [2 items]")
    tw.line()
    progress.refresh("[watcher 10:00:00] installing 2")
    assert tw.out == ["2 workers [2 items]", "\n"]  # no footer before the test loop
    progress.pytest_runtestloop(session=None)
    assert tw.out[-1] == footer("[watcher 10:00:00] installing 2", 0)
    tw.out.clear()

    logreport(progress, lambda: tw.write("."))
    assert tw.out == [ERASE_BELOW, ".", footer("[watcher 10:00:00] installing 2", 1)]
    tw.out.clear()
    progress.refresh("[watcher 10:00:01] installing 1")
    assert tw.out == [ERASE_BELOW + footer("[watcher 10:00:01] installing 1", 1)]
    tw.out.clear()

    logreport(progress, lambda: (tw.write("."), tw.write(" [100%]"), tw.line()))
    assert tw.out == [ERASE_BELOW, ".", " [100%]", "\n", footer("[watcher 10:00:01] installing 1", 0)]
    tw.out.clear()

    # the watcher's refresh while pytest writes a result waits for the result to be written
    logreport(progress, lambda: (tw.write("F"), progress.refresh("[watcher 10:00:01] installing 0")))
    assert tw.out == [ERASE_BELOW, "F", footer("[watcher 10:00:01] installing 0", 1)]
    tw.out.clear()

    # any other write of pytest's (xdist's lines, warnings) also erases and redraws
    tw.write("\rreplacing crashed worker")
    assert tw.out == [ERASE_BELOW, "\rreplacing crashed worker", footer("[watcher 10:00:01] installing 0", 24)]
    tw.out.clear()
    # a watcher line written while the footer is drawn leaves pytest's column alone
    progress.report("[watcher 10:00:02] installing 0")
    assert tw.out == [ERASE_BELOW + footer("[watcher 10:00:02] installing 0", 24)]


def test_the_footer_is_cut_to_the_terminal_width_and_follows_wrapped_lines():
    tw = FakeWriter(width=20)
    progress = Progress(tw, live=True)
    progress.pytest_runtestloop(session=None)
    progress.refresh("[watcher 10:00:00] installing 2, ready 0")
    assert tw.out[-1] == footer("[watcher 10:00:00] ", 0)  # 19 columns: the last one stays free
    tw.fullwidth = 30
    tw.write("x" * 45)  # the terminal wrapped it: the cursor is at column 15 of the second row
    assert tw.out[-1] == footer("[watcher 10:00:00] installing", 15)


def test_the_last_status_replaces_the_footer_and_the_writer_is_given_back():
    tw = FakeWriter()
    write, write_raw = tw.write, tw.write_raw
    progress = Progress(tw, live=True)
    progress.pytest_runtestloop(session=None)
    tw.write("..")
    progress.refresh("[watcher 10:00:00] installing 2")
    tw.out.clear()
    progress.finish("[watcher 10:00:05] installing 0, gone 2")
    assert tw.out == [ERASE_BELOW, "\n[watcher 10:00:05] installing 0, gone 2\n" + to_column(2)]
    assert tw.write == write and tw.write_raw == write_raw
    tw.out.clear()
    progress.refresh("[watcher 10:00:06] late")
    progress.report("[watcher 10:00:06] late")
    progress.finish("again")
    tw.write("== summary ==")
    assert tw.out == ["== summary =="]


def test_without_a_tty_each_report_is_one_plain_line_between_pytests_output():
    tw = FakeWriter()
    progress = Progress(tw, live=False)
    progress.pytest_runtestloop(session=None)
    progress.refresh("[watcher 10:00:00] installing 2")  # the footer's refresh: nothing without a TTY
    assert tw.out == []
    logreport(progress, lambda: tw.write("."))
    progress.report("[watcher 10:00:01] installing 2")
    progress.report("[watcher 10:00:02] installing 1")
    logreport(progress, lambda: tw.write("."))
    tw.write(" [100%]")
    progress.finish("[watcher 10:00:03] installing 0")
    text = tw.text()
    assert "\x1b" not in text
    # pytest's second dot goes on at its column, so its [100%] stays aligned
    assert text == (".\n[watcher 10:00:01] installing 2\n[watcher 10:00:02] installing 1\n" + " " + ". [100%]"
                    "\n[watcher 10:00:03] installing 0\n")


class FakeReporter:
    def __init__(self, isatty: bool, hasmarkup: bool):
        self._tw = FakeWriter()
        self.isatty = isatty
        self.hasmarkup = hasmarkup


def test_our_output_bypasses_the_writer_through_a_duplicate_of_its_descriptor():
    """Without xdist the tests run in the controller, with stdout captured: the status must still reach the
    terminal (here a pseudo-terminal), through its own copy of the terminal's file descriptor."""
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    try:
        reporter = FakeReporter(True, True)
        reporter._tw._file = stream
        progress = Progress.for_reporter(reporter)
        assert progress.live
        progress.pytest_runtestloop(session=None)
        progress.refresh("[watcher 10:00:00] installing 1")
        progress.finish("[watcher 10:00:01] installing 0")
        assert reporter._tw.out == []  # nothing went through pytest's writer
        seen = b""
        while b"installing 0" not in seen:
            ready, _, _ = select.select([master], [], [], 10)
            assert ready, seen
            seen += os.read(master, 4096)
        assert b"\r\n\r[watcher 10:00:00] installing 1\x1b[1A\x1b[1G" in seen and b"\x1b[J" in seen
    finally:
        stream.close()
        os.close(master)


@pytest.mark.parametrize("isatty, hasmarkup, live", [(True, True, True), (True, False, False),
                                                     (False, True, False), (False, False, False)])
def test_a_footer_only_on_a_tty_with_markup(isatty, hasmarkup, live):
    progress = Progress.for_reporter(FakeReporter(isatty, hasmarkup))  # FakeWriter has no file descriptor
    assert progress.live is live
    progress.finish()


# ------------------------------------------------------------ end to end
class Screen:
    """A small terminal: lines of cells, a cursor, automatic wrap, and the escape sequences pytest and the
    footer use.  The screen has no height: scrolling loses nothing, as with a scrollback buffer."""

    CSI = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])")

    def __init__(self, width: int):
        self.width = width
        self.rows: list[list[str]] = [[]]
        self.row = self.col = 0
        self.unknown: list[str] = []

    def feed(self, text: str) -> "Screen":
        pos = 0
        for match in self.CSI.finditer(text):
            self._chars(text[pos:match.start()])
            self._csi(match.group(1), match.group(2))
            pos = match.end()
        self._chars(text[pos:])
        return self

    def _chars(self, text: str) -> None:
        for ch in text:
            if ch == "\n":
                self.row += 1
                while len(self.rows) <= self.row:
                    self.rows.append([])
                self.col = min(self.col, self.width - 1)
            elif ch == "\r":
                self.col = 0
            elif ch == "\x1b" or ch < " ":
                self.unknown.append(repr(ch))
            else:
                if self.col >= self.width:  # the pending wrap
                    self._chars("\r\n")
                line = self.rows[self.row]
                line.extend(" " * (self.col + 1 - len(line)))
                line[self.col] = ch
                self.col += 1

    def _csi(self, params: str, final: str) -> None:
        n = max(1, int(params or "1")) if params.isdigit() or not params else None  # 0 counts as 1
        if final == "m":
            return
        if final == "J" and not params:
            del self.rows[self.row][self.col:]
            del self.rows[self.row + 1:]
        elif final == "K" and not params:
            del self.rows[self.row][self.col:]
        elif final == "A" and n:
            self.row = max(0, self.row - n)
        elif final == "G" and n:
            self.col = min(n - 1, self.width - 1)
        else:
            self.unknown.append(params + final)

    def lines(self) -> list[str]:
        return ["".join(r).rstrip() for r in self.rows]


FOOTER_DRAW = re.compile(r"(?:\x1b\[J)?\r?\n\r((?:(?!\x1b).)*)\x1b\[1A\x1b\[\d+G")


def test_screen_model():
    assert Screen(4).feed("abcdef\r\ng").lines() == ["abcd", "ef", "g"]
    assert Screen(10).feed("ab\r\nc\x1b[J\r\n\rfoot\x1b[1A\x1b[2Gd").lines() == ["ab", "cd", "foot"]
    assert Screen(10).feed("ab\r\nc\x1b[J\r\n\rfoot\x1b[1A\x1b[2Gd\x1b[J\r\n").lines() == ["ab", "cd", ""]
    assert Screen(10).feed("abcdef\rxy\x1b[K").lines() == ["xy"]
    screen = Screen(10).feed("a\x1b[1;32mb\x1b[0m\x1b[2Jc\x07")
    assert screen.lines() == ["abc"] and screen.unknown == ["2J", "'\\x07'"]


def run_in_pty(args: list[str], cwd: Path, columns: int, deadline: float) -> tuple[int, str]:
    """Run ``args`` with a pseudo-terminal as stdout and stderr; everything it wrote, read until it exits."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = dict(os.environ, COLUMNS=str(columns), LINES="40", TERM="xterm")
    env.pop("NO_COLOR", None), env.pop("PY_COLORS", None)
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail("the run in the pseudo-terminal did not end in time:\n"
                            + b"".join(chunks).decode(errors="replace")[-3000:])
            ready, _, _ = select.select([master], [], [], min(left, 1.0))
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        return proc.wait(timeout=max(1.0, deadline - time.monotonic())), b"".join(chunks).decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_on_a_tty_the_status_is_a_footer_that_never_garbles_pytests_output(scale_project, tmp_path):
    columns = 120
    path = tmp_path / "run"
    # -p no:benchmark: that plugin's workers print a warning straight to the terminal at start-up
    code, raw = run_in_pty([sys.executable, "-m", "pytest", "tests_scale", "--cluster-count", "2", "-n", "2",
                            "--sim-speed", "600", "--watcher-delay", "0.5", "--path", str(path),
                            "-p", "no:cacheprovider", "-p", "no:benchmark"],
                           cwd=scale_project.path, columns=columns, deadline=time.monotonic() + 240)
    screen = Screen(columns).feed(raw)
    lines = screen.lines()
    assert code == 0, raw[-3000:]
    assert not screen.unknown, screen.unknown

    draws = FOOTER_DRAW.findall(raw)
    assert len(draws) >= 3 and ERASE_BELOW in raw
    assert all(text.startswith("[watcher ") for text in draws)
    assert all(len(text) <= columns - 1 for text in draws)
    assert any("(of 2 requested)" in text and "slowest: perfsc-" in text for text in draws)
    assert any(len(text) == columns - 1 for text in draws), "the footer with two slowest clusters is cut"

    # pytest's output is what it would be without the footer, plus the one final status line
    without = Screen(columns).feed(FOOTER_DRAW.sub("", raw).replace(ERASE_BELOW, "")).lines()
    assert lines == without
    watcher_lines = [line for line in lines if "[watcher" in line]
    assert len(watcher_lines) == 1, watcher_lines
    assert re.fullmatch(r"\[watcher \d\d:\d\d:\d\d\] installing 0, ready \d, failed 0, deleting \d "
                        r"\(of 2 requested\), gone \d", watcher_lines[0])
    assert any(re.fullmatch(r"\.\. +\[100%\]", line) for line in lines), lines
    assert lines.index(watcher_lines[0]) > max(i for i, line in enumerate(lines) if "[100%]" in line)
    assert any(re.fullmatch(r"=+ 2 passed.* in [\d.]+s.* =+", line) for line in lines), lines
    assert "hosted clusters" in raw
    records = [json.loads(x) for x in (path / "watcher.jsonl").read_text().splitlines()]
    assert records[-1]["installing"] == 0


def test_without_a_terminal_reporter_the_run_still_reports_to_watcher_jsonl(scale_project, tmp_path):
    path = tmp_path / "run"
    result = scale_project.runpytest_subprocess("tests_scale", "--path", str(path), "--sim-speed", "3000",
                                                "--cluster-count", "1", "--watcher-delay", "0.5",
                                                "-p", "no:terminal", timeout=300)
    assert result.ret == 0, result.stderr.str()
    assert "[watcher" not in result.stdout.str()
    assert (path / "watcher.jsonl").read_text().strip()
