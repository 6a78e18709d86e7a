"""The controller's watcher: one watch over every HostedCluster of the run.

It keeps the latest state of each cluster (from watch events, labelled with the
run uuid) and its ``metadata.creationTimestamp``, and every ``--watcher-delay``
seconds reports how many are Installing, Ready, Failed and Deleting, how many
are gone (destroyed), and the slowest clusters still installing (oldest first,
with their age) — on the terminal, in the log and in ``watcher.jsonl``.
Everything comes from the watch events already received: reporting makes no
API request.

With a live display (``live``, the terminal's status footer on a TTY) it also
hands the status line over about once a second, and at once when the counts
change.  It runs in daemon threads with bounded requests and a stop event, so
it can never hold up the run.

Ages are the controller's clock minus the API server's creationTimestamp, so
they assume both clocks agree (a negative age shows as 0s).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .kube import Kube, WaitTimeout
from .platform import RUN_LABEL, rolled_out, terminal_failure
from .rundir import epoch_seconds, iso_epoch

log = logging.getLogger("hcp.watcher")

STATES = ("installing", "ready", "failed", "deleting")
GONE = "gone"
SLOWEST = 3     # how many of the oldest installing clusters a status names
TICK = 1.0      # seconds between refreshes of a live display


def classify(hc: dict) -> str:
    if hc["metadata"].get("deletionTimestamp"):
        return "deleting"
    if terminal_failure(hc):
        return "failed"
    if rolled_out(hc):
        return "ready"
    return "installing"


def format_age(seconds: float) -> str:
    """``45s``, ``12m04s``, ``1h02m03s``."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclass(frozen=True)
class Snapshot:
    """What the watcher knows at one instant."""

    when: float                                  # seconds since the epoch
    counts: dict[str, int]                       # one entry per STATES
    gone: int                                    # seen, then no longer listed (destroyed)
    requested: int
    slowest: tuple[tuple[str, int], ...] = field(default=())  # (name, age in s) of installing clusters, oldest first

    def line(self) -> str:
        c = self.counts
        stamp = iso_epoch(self.when)[11:19]
        text = (f"[watcher {stamp}] installing {c['installing']}, ready {c['ready']}, failed {c['failed']}, "
                f"deleting {c['deleting']} (of {self.requested} requested), gone {self.gone}")
        if self.slowest:
            text += "; slowest: " + ", ".join(f"{name} {format_age(age)}" for name, age in self.slowest)
        return text

    def record(self) -> dict:
        """The ``watcher.jsonl`` record."""
        return {"time": iso_epoch(self.when), **self.counts,
                "gone": self.gone, "requested": self.requested,
                "slowest": [{"name": name, "age_s": age} for name, age in self.slowest]}


class Watcher:
    def __init__(self, kubeconfig: str, namespace: str, run_uuid: str, delay: float, requested: int,
                 out: Path, emit: Callable[[str], None] | None = None,
                 live: Callable[[str], None] | None = None, tick: float = TICK):
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.selector = f"{RUN_LABEL}={run_uuid}"
        self.delay = delay
        self.requested = requested
        self.out = out
        self.emit = emit          # the status line, every `delay` seconds
        self.live = live          # the status line, every `tick` seconds and when the counts change
        self.tick = tick
        self.states: dict[str, str] = {}              # name -> one of STATES or GONE
        self._counts: Counter[str] = Counter()          # how many clusters are in each state
        self._seen: dict[str, dict] = {}                # name -> the object last classified (still listed)
        self.created: dict[str, float | None] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.wake = threading.Event()   # the counts changed (or stop): refresh the live display now
        self._last_counts: tuple | None = None
        self.threads: list[threading.Thread] = []

    def start(self) -> "Watcher":
        for target, name in ((self._watch, "hcp-watch"), (self._report, "hcp-report")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    # ------------------------------------------------------------ state
    @staticmethod
    def classify(hc: dict) -> str:
        return classify(hc)

    @staticmethod
    def created_of(hc: dict) -> float | None:
        return epoch_seconds(hc["metadata"].get("creationTimestamp"))

    def apply(self, objs: dict[str, dict]) -> None:
        """Take the current HostedClusters of the run (by name), as the watch sees them.

        The watch hands over the whole set on every event, but replaces only the
        object that changed: objects already seen (the same dict) are skipped, so
        an event costs one identity check per cluster, not a reclassification.
        """
        with self.lock:
            for name, hc in objs.items():
                if self._seen.get(name) is hc:
                    continue
                self._seen[name] = hc
                self._set(name, self.classify(hc))
                self.created[name] = self.created_of(hc)
            if len(self._seen) != len(objs):  # some listed before are no longer
                for name in [n for n in self._seen if n not in objs]:
                    del self._seen[name]
                    self._set(name, GONE)
            counts = tuple(self._counts[state] for state in (*STATES, GONE))
        if counts != self._last_counts:
            self._last_counts = counts
            if self.live is not None:
                self.wake.set()

    def _set(self, name: str, state: str) -> None:
        before = self.states.get(name)
        if before != state:
            if before is not None:
                self._counts[before] -= 1
            self._counts[state] += 1
            self.states[name] = state

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {state: self._counts[state] for state in STATES}

    def snapshot(self, now: float | None = None) -> Snapshot:
        now = time.time() if now is None else now
        with self.lock:
            counts = {state: self._counts[state] for state in STATES}
            gone = self._counts[GONE]
            installing = sorted((self.created[name], name) for name, state in self.states.items()
                                if state == "installing" and self.created.get(name) is not None)
        slowest = tuple((name, max(0, int(now - created))) for created, name in installing[:SLOWEST])
        return Snapshot(when=now, counts=counts, gone=gone, requested=self.requested, slowest=slowest)

    def line(self, now: float | None = None) -> str:
        return self.snapshot(now).line()

    # ---------------------------------------------------------- threads
    def _watch(self) -> None:
        kube = Kube.from_kubeconfig(self.kubeconfig)

        def update(objs: dict[str, dict]):
            self.apply(objs)
            return True if self.stopping.is_set() else None

        try:
            while not self.stopping.is_set():
                try:
                    # Short deadlines: the loop checks the stop event between watch chunks.
                    kube.wait_for("hostedclusters", update, deadline=time.monotonic() + 30,
                                  namespace=self.namespace, label_selector=self.selector, what="run clusters",
                                  stop=self.stopping)
                except WaitTimeout:
                    continue
                except Exception as exc:  # never let the watcher take the run down
                    if not self.stopping.is_set():
                        log.warning("watcher: %s", exc)
                    self.stopping.wait(min(self.delay, 10))
        finally:
            kube.close()

    def _report(self) -> None:
        next_line = time.monotonic() + self.delay
        while True:
            timeout = next_line - time.monotonic()
            if self.live is not None:
                timeout = min(timeout, self.tick)
            self.wake.wait(max(0.0, timeout))
            if self.stopping.is_set():
                return
            self.wake.clear()
            now = time.monotonic()
            if now >= next_line:
                next_line += self.delay
                if next_line <= now:  # fell behind: one line now, the next a whole interval later
                    next_line = now + self.delay
                self.report()
            elif self.live is not None:
                self._call(self.live, self.line())

    @staticmethod
    def _call(fn: Callable[[str], None], text: str) -> None:
        try:
            fn(text)
        except Exception as exc:  # the terminal must not stop the watcher
            log.debug("watcher output failed: %s", exc)

    def report(self, emit: bool = True) -> str:
        """Log the status, append it to ``watcher.jsonl`` and (``emit``) hand it to the terminal; return its line."""
        snap = self.snapshot()
        text = snap.line()
        log.info(text)
        try:
            with open(self.out, "a") as fh:
                fh.write(json.dumps(snap.record()) + "\n")
        except OSError:
            pass
        if emit and self.emit:
            self._call(self.emit, text)
        return text

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        for thread in self.threads:
            thread.join(timeout=2)
