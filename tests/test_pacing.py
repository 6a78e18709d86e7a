"""Batch pacing: the sliding window and the installing-at-once cap, through the real TCP service."""
from __future__ import annotations

import threading
import time

import pytest

from plugins.pacing import Pacer, PacerService, Slot


def _grab_all(service: PacerService, names, hold: float = 0.0) -> list[Slot]:
    slots: list[Slot] = []
    lock = threading.Lock()

    def one(name):
        slot = Slot(service.address, name).acquire()
        with lock:
            slots.append(slot)
        if hold:
            time.sleep(hold)
        slot.release()

    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return slots


def test_window_allows_batch_size_starts_per_delay():
    service = PacerService(batch_size=2, delay=0.4)
    try:
        slots = _grab_all(service, [f"c{i}" for i in range(6)])
    finally:
        service.stop()
    grants = sorted(s.granted for s in slots)
    assert len(grants) == 6
    for i, start in enumerate(grants):
        in_window = [g for g in grants if start <= g < start + 0.4]
        assert len(in_window) <= 2, f"more than 2 starts within 0.4s of grant {i}: {grants}"
    # Three windows are needed for six starts at two per window.
    assert grants[-1] - grants[0] >= 0.8 - 0.01
    assert sum(1 for s in slots if s.waited > 0.1) >= 4


def test_cap_limits_clusters_installing_at_once():
    service = PacerService(batch_size=2, delay=0)
    active = []
    peak = []
    lock = threading.Lock()

    def one(name):
        with Slot(service.address, name):
            with lock:
                active.append(name)
                peak.append(len(active))
            time.sleep(0.1)
            with lock:
                active.remove(name)

    threads = [threading.Thread(target=one, args=(f"c{i}",)) for i in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        service.stop()
    assert len(peak) == 6
    assert max(peak) == 2


def test_a_dead_holder_releases_its_slot():
    service = PacerService(batch_size=1, delay=0)
    try:
        first = Slot(service.address, "a").acquire()
        first.sock.close()  # the worker went away without saying goodbye
        first.sock = None
        second = Slot(service.address, "b").acquire()
        assert second.granted >= first.granted
        second.release()
    finally:
        service.stop()


def test_grants_follow_request_order():
    pacer = Pacer(batch_size=1, delay=0)
    ticket, _ = pacer.acquire("first")
    order = []

    def later(name):
        t, _ = pacer.acquire(name)
        order.append(name)
        pacer.release(t)

    waiting = []
    for name in ("second", "third"):
        th = threading.Thread(target=later, args=(name,))
        th.start()
        waiting.append(th)
        deadline = time.monotonic() + 5
        while len(pacer.queue) < len(waiting) and time.monotonic() < deadline:
            time.sleep(0.01)
    pacer.release(ticket)
    for th in waiting:
        th.join(10)
    assert order == ["second", "third"]


def test_unlimited_pacer_never_waits():
    pacer = Pacer(batch_size=0, delay=0)
    for i in range(50):
        pacer.acquire(f"c{i}", timeout=0.01)
    assert len(pacer.history) == 50


def test_acquire_times_out_without_losing_its_place_forever():
    pacer = Pacer(batch_size=1, delay=0)
    pacer.acquire("holder")
    with pytest.raises(TimeoutError):
        pacer.acquire("late", timeout=0.05)
    assert not pacer.queue
