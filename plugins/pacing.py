"""Batch pacing across xdist workers: who may start creating a cluster, and when.

The controller runs a tiny TCP service on 127.0.0.1; a worker asks it for a slot
before it runs the create command.  Two rules, from the old wrapper's options:

* ``--batch-size B --delay-between-batch D``: at most B creations start in any
  D-second window (a sliding window over the grant times).
* ``--batch-size B`` alone: at most B clusters are installing at once; a slot is
  held from the grant until the worker releases it (cluster ready or failed) or
  its connection closes (worker crashed), so a dead worker never leaks a slot.

Requests are granted in arrival order.  Messages are JSON lines.
"""
from __future__ import annotations

import collections
import json
import logging
import socket
import socketserver
import threading
import time

log = logging.getLogger("hcp.pacing")


class Pacer:
    """The decision logic, independent of the transport (unit-testable)."""

    def __init__(self, batch_size: int, delay: float, clock=time.time):
        self.batch_size = batch_size
        self.delay = delay
        self.clock = clock
        self.cond = threading.Condition()
        self.grants: collections.deque[float] = collections.deque()   # grant times inside the window
        self.holders: set[int] = set()                                # tickets holding a slot (cap mode)
        self.queue: collections.deque[int] = collections.deque()
        self.next_ticket = 0
        self.closed = False
        self.history: list[dict] = []                                  # every grant, for the summary

    @property
    def limited(self) -> bool:
        return self.batch_size > 0

    @property
    def windowed(self) -> bool:
        return self.batch_size > 0 and self.delay > 0

    def _wait_needed(self, now: float) -> float | None:
        """0 when a grant may happen now, seconds to wait (window), or None (wait for a release)."""
        if not self.limited:
            return 0.0
        if self.windowed:
            while self.grants and self.grants[0] <= now - self.delay:
                self.grants.popleft()
            if len(self.grants) < self.batch_size:
                return 0.0
            return self.grants[0] + self.delay - now
        return 0.0 if len(self.holders) < self.batch_size else None

    def acquire(self, cluster: str, timeout: float | None = None) -> tuple[int, float]:
        """Block until ``cluster`` may start; return (ticket, grant time)."""
        with self.cond:
            ticket = self.next_ticket
            self.next_ticket += 1
            self.queue.append(ticket)
            requested = self.clock()
            end = None if timeout is None else time.monotonic() + timeout
            try:
                while True:
                    if self.closed:
                        raise RuntimeError("pacer closed")
                    now = self.clock()
                    wait = self._wait_needed(now) if self.queue[0] == ticket else None
                    if wait == 0.0:
                        self.queue.popleft()
                        self.grants.append(now)
                        if not self.windowed and self.limited:
                            self.holders.add(ticket)
                        self.history.append({"cluster": cluster, "requested": requested, "granted": now})
                        self.cond.notify_all()
                        return ticket, now
                    if end is not None:
                        left = end - time.monotonic()
                        if left <= 0:
                            raise TimeoutError(f"no batch slot for {cluster}")
                        wait = left if wait is None else min(wait, left)
                    self.cond.wait(wait)
            except BaseException:
                if ticket in self.queue:
                    self.queue.remove(ticket)
                    self.cond.notify_all()
                raise

    def release(self, ticket: int) -> None:
        with self.cond:
            if ticket in self.holders:
                self.holders.discard(ticket)
                self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class Barrier:
    """Holds callers until ``expected`` clusters have arrived (finished installing, ready or not)."""

    def __init__(self, expected: int = 0):
        self.cond = threading.Condition()
        self.expected = expected
        self.arrived: set[str] = set()
        self.released_at: float | None = None

    def expect(self, count: int) -> None:
        with self.cond:
            self.expected = count
            self.cond.notify_all()

    def arrive(self, cluster: str) -> None:
        with self.cond:
            self.arrived.add(cluster)
            self.cond.notify_all()

    def wait(self, timeout: float | None = None) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.arrived) >= self.expected, timeout):
                raise TimeoutError(f"{len(self.arrived)} of {self.expected} clusters arrived")
            if self.released_at is None:
                self.released_at = time.time()
            return self.released_at


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        pacer: Pacer = self.server.pacer  # type: ignore[attr-defined]
        ticket = None
        try:
            line = self.rfile.readline()
            if not line:
                return
            request = json.loads(line)
            op = request.get("op", "slot")
            if op == "arrive":
                self.server.barrier.arrive(request.get("cluster", "?"))  # type: ignore[attr-defined]
                self.wfile.write(b'{"ok": true}\n')
                return
            if op == "barrier":
                released = self.server.barrier.wait()  # type: ignore[attr-defined]
                self.wfile.write((json.dumps({"released": released}) + "\n").encode())
                return
            ticket, granted = pacer.acquire(request.get("cluster", "?"))
            self.wfile.write((json.dumps({"granted": granted}) + "\n").encode())
            self.wfile.flush()
            # Hold the slot until the worker says so or goes away.
            self.rfile.readline()
        except (OSError, ValueError, RuntimeError) as exc:
            log.debug("pacing connection ended: %s", exc)
        finally:
            if ticket is not None:
                pacer.release(ticket)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class PacerService:
    """The controller side: serves a ``Pacer`` on 127.0.0.1."""

    def __init__(self, batch_size: int, delay: float, expected: int = 0):
        self.pacer = Pacer(batch_size, delay)
        self.barrier = Barrier(expected)
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.pacer = self.pacer  # type: ignore[attr-defined]
        self.server.barrier = self.barrier  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="hcp-pacer", daemon=True)
        self.thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[:2]

    def stop(self) -> None:
        self.pacer.close()
        self.barrier.expect(0)  # release anyone still waiting
        self.server.shutdown()
        self.server.server_close()


class Slot:
    """The worker side: ``with Slot(addr, name) as slot:`` blocks until the start is allowed."""

    def __init__(self, address: tuple[str, int] | list, cluster: str):
        self.address = tuple(address)
        self.cluster = cluster
        self.sock: socket.socket | None = None
        self.requested = 0.0
        self.granted = 0.0

    def acquire(self) -> "Slot":
        self.requested = time.time()
        self.sock = socket.create_connection(self.address, timeout=10)
        self.sock.settimeout(None)  # waiting for a slot may take long; pytest-timeout bounds the test
        self.sock.sendall((json.dumps({"cluster": self.cluster}) + "\n").encode())
        reply = self.sock.makefile("rb").readline()
        if not reply:
            self.release()
            raise RuntimeError("the controller's pacing service closed the connection")
        self.granted = json.loads(reply)["granted"]
        return self

    @property
    def waited(self) -> float:
        return max(0.0, self.granted - self.requested)

    def release(self) -> None:
        if self.sock is not None:
            try:
                self.sock.sendall(b"{}\n")
            except OSError:
                pass
            self.sock.close()
            self.sock = None

    def __enter__(self) -> "Slot":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _request(address, message: dict) -> dict:
    with socket.create_connection(tuple(address), timeout=10) as sock:
        sock.settimeout(None)  # a barrier may take long; pytest-timeout and --load-timeout bound the test
        sock.sendall((json.dumps(message) + "\n").encode())
        reply = sock.makefile("rb").readline()
    if not reply:
        raise RuntimeError("the controller's coordination service closed the connection")
    return json.loads(reply)


def arrive(address, cluster: str) -> None:
    """Tell the controller this cluster has finished installing (ready or failed)."""
    _request(address, {"op": "arrive", "cluster": cluster})


def wait_barrier(address) -> float:
    """Block until every cluster of the run has arrived; return when the barrier opened."""
    return _request(address, {"op": "barrier"})["released"]
