"""The fetcher against hostile servers: trickling responses, redirects that smuggle credentials
or tunnel to private addresses, host names with a final dot. Loopback servers only."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

import etl.web.connections as connections
import etl.web.politeness as politeness
from etl.backends.sqlite.backend import SqliteBackend
from etl.pipeline import ingest
from etl.settings import Settings
from etl.web.dispatch import fetch_inputs
from etl.web.fetcher import Fetcher
from etl.web.netguard import NetGuard, parse_networks
from etl.web.protocol import FetchError, host_of
from tests.sites import Reply, article_html, fake_dns, news_site, running

DEADLINE = 2.0


def cfg(**changes: Any) -> Settings:
    base = Settings(
        allowed_networks=("127.0.0.0/8",),
        fetch_rate_per_host=50.0,
        fetch_connect_timeout=2.0,
        fetch_read_timeout=5.0,  # longer than the gaps between trickled bytes: never trips
        fetch_total_timeout=DEADLINE,
        fetch_retries=0,
        respect_robots=False,
        workers=1,
    )
    return base.with_overrides(**changes)


class Trickler:
    """A loopback server that answers every request one byte a second, for ever.

    ``stage``: what is trickled. ``status``: the status line itself; ``headers``: an endless
    header after a prompt status line; ``body``: a body (Content-Length 100000) after prompt
    headers; ``redirect``: the body of a 301 (which the fetcher drains before following)."""

    def __init__(self, stage: str, interval: float = 1.0) -> None:
        self.stage = stage
        self.interval = interval
        self.requests = 0
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, path: str = "/page") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Trickler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(5)

    def _accept(self) -> None:
        self._server.settimeout(0.1)  # a blocked accept() would not notice the close
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            self.requests += 1
            head, trickled = self._answer()
            conn.sendall(head)
            for byte in trickled:
                if self._stop.wait(self.interval):
                    return
                conn.sendall(bytes([byte]))

    def _answer(self) -> tuple[bytes, bytes]:
        endless = b"x" * 100_000
        if self.stage == "status":
            return b"", b"HTTP/1.1 200 OK\r\n" + endless
        if self.stage == "headers":
            return b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Slow: ", endless
        redirect = self.stage == "redirect"
        head = (
            b"HTTP/1.1 301 Moved\r\nLocation: /elsewhere\r\n"
            if redirect
            else b"HTTP/1.1 200 OK\r\n"
        ) + b"Content-Type: text/html\r\nContent-Length: 1000\r\n\r\n"
        return head, b"<html>" + endless[:994]


# The failure condition: a fetch the deadline did not end. "thread": a fetch stuck in a pool
# thread would also hang the signal method's failure; this one ends the session, loudly.
@pytest.mark.timeout(10 * DEADLINE, method="thread")
@pytest.mark.parametrize("stage", ["status", "headers", "body", "redirect"])
def test_a_trickling_server_is_dropped_at_the_deadline(stage: str, tmp_path: Path) -> None:
    with Trickler(stage) as server:
        (result,) = fetch_inputs([server.url()], cfg(), cache_location=tmp_path / "cache.db")
    assert result.rejection == f"timeout after {DEADLINE:g}s (whole response deadline)"
    assert server.requests == 1  # a deadline is not retried


@pytest.mark.timeout(10 * DEADLINE, method="thread")
def test_the_deadline_leaves_the_next_request_alone(tmp_path: Path) -> None:
    """After a request that hit its deadline, the same fetcher fetches a healthy page in full
    (the deadline fired on its own socket only)."""
    with Trickler("body") as slow, running(news_site()) as (site,):
        settings = cfg()
        fetcher = Fetcher(settings)
        try:
            with pytest.raises(FetchError, match="whole response deadline"):
                fetcher.get(slow.url())
            for n in (1, 2, 3):
                assert fetcher.get(site.url(f"/articles/{n}")).data == article_html(n)
        finally:
            fetcher.close()


def test_a_redirect_to_a_url_with_credentials_is_refused(tmp_path: Path) -> None:
    with running(news_site()) as (site,):
        target = f"http://editor:hunter2@127.0.0.1:{site.port}/articles/1"
        site.route("/login-redirect", Reply(302, headers={"Location": target}))
        site.route(
            "/relative",
            Reply(302, headers={"Location": f"//editor:hunter2@127.0.0.1:{site.port}/articles/2"}),
        )
        settings = cfg(index=str(tmp_path / "index.db"))
        report = ingest([site.url("/login-redirect"), site.url("/relative"), target], settings)
        got = {o.source: (o.outcome.value, o.reason) for o in report.outcomes}
        assert got[site.url("/login-redirect")] == (
            "rejected",
            "redirect refused: URL contains a user name or password",
        )
        assert got[site.url("/relative")] == got[site.url("/login-redirect")]
        # Named directly, it is refused before any request (and its password never shown).
        assert ("rejected", "URL contains a user name or password") in got.values()
        assert "hunter2" not in repr(report.as_dict())
        assert site.requests_for("/articles/1") == site.requests_for("/articles/2") == []
    index = SqliteBackend(settings.index)
    assert index.count() == 0
    index.close()


def test_fetching_refuses_credentials_even_without_discovery(tmp_path: Path) -> None:
    with running(news_site()) as (site,):
        url = f"http://u:p@127.0.0.1:{site.port}/articles/1"
        (result,) = fetch_inputs([url], cfg(), cache_location=tmp_path / "cache.db")
        assert result.rejection == "URL contains a user name or password"
        assert site.log == []


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("2002:a9fe:a9fe::1", "blocked address 169.254.169.254 (cloud metadata endpoint)"),
        ("2002:a00:5::", "blocked address 10.0.0.5 (private network)"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "blocked address 127.0.0.1 (loopback)"),
        ("64:ff9b::a00:5", "blocked address 10.0.0.5 (private network)"),
    ],
)
def test_tunnelled_ipv4_addresses_are_checked_before_connecting(
    address: str, blocked: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_connection(*_args: Any, **_kwargs: Any) -> socket.socket:
        raise AssertionError("connected to a blocked address")

    monkeypatch.setattr(connections, "create_connection", no_connection)
    settings = cfg(allowed_networks=())
    guard = NetGuard(parse_networks(()), fake_dns({"tunnel.test": [address]}))
    fetcher = Fetcher(settings, guard=guard)
    try:
        with pytest.raises(FetchError) as caught:
            fetcher.get("http://tunnel.test/latest/meta-data/")
        assert caught.value.reason == blocked
        with pytest.raises(FetchError) as caught:  # and as a literal in the URL
            fetcher.get(f"http://[{address}]/")
        assert caught.value.reason == blocked
    finally:
        fetcher.close()


def test_a_host_name_with_a_final_dot_is_the_same_host(tmp_path: Path) -> None:
    assert host_of("http://News.Example.:8080/a") == host_of("http://news.example/b")
    with running(news_site()) as (site,):
        dotted = f"http://127.0.0.1.:{site.port}/articles/1"
        results = {
            r.key: r
            for r in fetch_inputs(
                [dotted, site.url("/articles/2")],
                cfg(fetch_rate_per_host=5.0),
                cache_location=tmp_path / "cache.db",
            )
        }
        assert results[dotted].data == article_html(1)
        assert results[site.url("/articles/2")].data == article_html(2)
    # One host, one rate budget, however it was named.
    assert "127.0.0.1." not in politeness.CLOCK._last
    assert "127.0.0.1" in politeness.CLOCK._last
