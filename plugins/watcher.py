"""The controller's watcher: one watch over every HostedCluster of the run.

It keeps the latest state of each cluster (from watch events, labelled with the
run uuid) and every ``--watcher-delay`` seconds reports how many are
Installing, Ready, Failed and Deleting — on the terminal, in the log and in
``watcher.jsonl``.  It runs in daemon threads with bounded requests and a stop
event, so it can never hold up the run.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Callable

from .kube import Kube, WaitTimeout
from .platform import RUN_LABEL, rolled_out, terminal_failure
from .rundir import isotime

log = logging.getLogger("hcp.watcher")

STATES = ("installing", "ready", "failed", "deleting")


def classify(hc: dict) -> str:
    if hc["metadata"].get("deletionTimestamp"):
        return "deleting"
    if terminal_failure(hc):
        return "failed"
    if rolled_out(hc):
        return "ready"
    return "installing"


class Watcher:
    def __init__(self, kubeconfig: str, namespace: str, run_uuid: str, delay: float, requested: int,
                 out: Path, emit: Callable[[str], None] | None = None):
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.selector = f"{RUN_LABEL}={run_uuid}"
        self.delay = delay
        self.requested = requested
        self.out = out
        self.emit = emit
        self.states: dict[str, str] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> "Watcher":
        for target, name in ((self._watch, "hcp-watch"), (self._report, "hcp-report")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def counts(self) -> dict[str, int]:
        with self.lock:
            values = list(self.states.values())
        return {state: values.count(state) for state in STATES}

    def line(self) -> str:
        c = self.counts()
        return (f"[watcher {isotime()[11:19]}] installing {c['installing']}, ready {c['ready']}, "
                f"failed {c['failed']}, deleting {c['deleting']} (of {self.requested} requested)")

    def _watch(self) -> None:
        kube = Kube.from_kubeconfig(self.kubeconfig)

        def update(objs: dict[str, dict]):
            with self.lock:
                for name in list(self.states):
                    if name not in objs and self.states[name] != "gone":
                        self.states[name] = "gone"
                for name, hc in objs.items():
                    self.states[name] = classify(hc)
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
        while not self.stopping.wait(self.delay):
            self.report()

    def report(self) -> None:
        text = self.line()
        log.info(text)
        try:
            with open(self.out, "a") as fh:
                fh.write(json.dumps({"time": isotime(), **self.counts()}) + "\n")
        except OSError:
            pass
        if self.emit:
            try:
                self.emit(text)
            except Exception:
                pass

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=2)
