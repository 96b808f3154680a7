"""The fetcher's per-host clock, recorded from inside the fetcher: the politeness rule checked
exactly, without the jitter of when requests happen to reach a test server on a busy machine."""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import pytest

import etl.web.politeness as politeness
from etl.web.politeness import HostClock
from tests.sites import Site

# Float rounding only: slots are sums of intervals, compared exactly, never with wall-time slack.
EPSILON = 1e-6


@dataclass
class ClockLog:
    """What the fetcher's per-host clock did, seen from inside the fetcher (no server jitter):
    the slot each request was given, and when it then went ahead, per host, in order."""

    slots: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def check_polite(self, host: str, interval: float) -> None:
        """The politeness rule, exactly: request slots of ``host`` are at least ``interval``
        apart, and no request went ahead before its slot. (Server arrival times cannot show
        this: on a busy machine one request's arrival is delayed more than the next one's.)"""
        slots, starts = sorted(self.slots[host]), sorted(self.starts[host])
        assert len(slots) == len(starts) >= 2
        assert min(b - a for a, b in itertools.pairwise(slots)) >= interval - EPSILON
        assert all(start >= slot for slot, start in zip(slots, starts, strict=True))

    def starts_by_path(self, site: Site) -> dict[str, list[float]]:
        """When each of ``site``'s requests went ahead, by path. One request at a time per host,
        so the server saw them in the order they went ahead."""
        starts = sorted(self.starts[site.host])
        arrived = sorted(site.log, key=lambda r: r.time)
        assert len(starts) == len(arrived), "every request reached the server"
        by_path: dict[str, list[float]] = defaultdict(list)
        for request, start in zip(arrived, starts, strict=True):
            by_path[request.path].append(start)
        return by_path


def record_host_clock(monkeypatch: pytest.MonkeyPatch) -> ClockLog:
    """Record the slots the process-wide host clock hands out and when requests went ahead."""
    log = ClockLog()
    lock = threading.Lock()
    shared = politeness.CLOCK
    reserve = shared.reserve

    def recording_reserve(host: str, interval: float) -> float:
        slot = reserve(host, interval)
        with lock:
            log.slots[host].append(slot)
        return slot

    def recording_wait(host: str, interval: float) -> None:
        HostClock.wait(shared, host, interval)  # calls the recording reserve
        with lock:
            log.starts[host].append(time.monotonic())

    monkeypatch.setattr(shared, "reserve", recording_reserve)
    monkeypatch.setattr(shared, "wait", recording_wait)
    return log


__all__ = ["EPSILON", "ClockLog", "record_host_clock"]
