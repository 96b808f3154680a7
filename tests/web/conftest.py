"""Fixtures of the web wing's tests: the standard loopback news site, a guard against any
connection off loopback, and the fetcher's per-host clock recorded."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

import etl.web.connections as connections
from tests.sites import Site, news_site, running
from tests.web.host_clock import ClockLog, record_host_clock


@pytest.fixture
def site() -> Iterator[Site]:
    """The standard news site (``tests.sites.news_site``), served on loopback."""
    with running(news_site()) as (s,):
        yield s


@pytest.fixture
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the fetcher ever opens a socket to a non-loopback address."""
    real = connections.create_connection

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        assert address[0].startswith("127."), f"connection attempted to {address[0]}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(connections, "create_connection", guarded)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ClockLog:
    """The fetcher's per-host clock, recorded (tests/web/host_clock.py)."""
    return record_host_clock(monkeypatch)
