"""Loopback web sites for fetch tests and the fetch benchmark.

``Site`` is a ThreadingHTTPServer on 127.0.0.x with routes you set, recording every request
(arrival time, path, headers) so tests can assert politeness from the *server's* point of view.
``news_site`` builds the standard test site: articles with ETags, a feed, a sitemap index,
robots.txt and every kind of misbehaviour the fetcher must survive.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    time: float  # time.monotonic() when the request arrived (headers read)
    path: str
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (slow page)
    # Send this many bytes (of repeated body) without Content-Length, in chunks.
    stream_bytes: int = 0


Route = Reply | Callable[[Request, int], Reply]  # a callable gets the request and its count


class Site:
    """One HTTP/1.1 server on ``host`` (any 127.0.0.x works on Linux) and a free port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[Request] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.host = host
        self.port = self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def route(self, path: str, reply: Route) -> None:
        self.routes[path] = reply

    def requests_for(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.log if r.path == path]

    def start(self) -> Site:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str, headers: dict[str, str]) -> Reply:
        request = Request(time=time.monotonic(), path=path, headers=headers)
        with self._lock:
            self.log.append(request)
            count = self._counts[path] = self._counts.get(path, 0) + 1
        route = self.routes.get(path.split("?", 1)[0])
        if route is None:
            return Reply(404, b"not found", {"Content-Type": "text/plain"})
        return route(request, count) if callable(route) else route


def _handler_for(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real sites do

        def do_GET(self) -> None:
            reply = site._answer(self.path, {k.lower(): v for k, v in self.headers.items()})
            if reply.delay:
                time.sleep(reply.delay)
            # The client may give up (timeout, size limit): expected, not an error.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send(reply)

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.stream_bytes:
                self.send_header("Connection", "close")
                self.end_headers()
                piece = reply.body or b"x" * 65536
                sent = 0
                while sent < reply.stream_bytes:
                    self.wfile.write(piece)
                    sent += len(piece)
                self.close_connection = True
                return
            if "Content-Length" not in reply.headers:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests

    return Handler


@contextmanager
def running(*sites: Site) -> Iterator[tuple[Site, ...]]:
    for site in sites:
        site.start()
    try:
        yield sites
    finally:
        for site in sites:
            site.stop()


# --- content --------------------------------------------------------------------------------


def article_html(n: int, words: int = 120) -> bytes:
    body = " ".join(f"word{i % 37}" for i in range(words))
    return (
        f"<!doctype html><html><head><title>Article {n}</title></head>"
        f"<body><article><h1>Article {n}</h1><p>{body}</p></article></body></html>"
    ).encode()


def article_route(n: int, version: str = "v1") -> Callable[[Request, int], Reply]:
    """An article page with an ETag and Last-Modified, answering 304 to a matching request."""
    etag = f'"{version}-{n}"'
    modified = "Mon, 01 Jan 2024 00:00:00 GMT"

    def reply(request: Request, _count: int) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(
            200,
            article_html(n),
            {"Content-Type": "text/html; charset=utf-8", "ETag": etag, "Last-Modified": modified},
        )

    return reply


def rss(links: list[str]) -> bytes:
    items = "".join(f"<item><title>t</title><link>{link}</link></item>" for link in links)
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        f"<link>http://example.invalid/</link>{items}</channel></rss>"
    ).encode()


def atom(links: list[str]) -> bytes:
    entries = "".join(
        f'<entry><title>t</title><link rel="alternate" href="{link}"/></entry>' for link in links
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title>News</title><link rel="self" href="/atom.xml"/>{entries}</feed>'
    ).encode()


def urlset(links: list[str]) -> bytes:
    urls = "".join(f"<url><loc>{link}</loc></url>" for link in links)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


def sitemap_index(links: list[str]) -> bytes:
    maps = "".join(f"<sitemap><loc>{link}</loc></sitemap>" for link in links)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{maps}</sitemapindex>'
    ).encode()


XML = {"Content-Type": "application/xml"}
HTML = {"Content-Type": "text/html; charset=utf-8"}

# The bomb: 20 kB of gzip that inflates to 20 MB.
GZIP_BOMB = gzip.compress(b"\0" * 20_000_000, compresslevel=9)


def news_site(host: str = "127.0.0.1", *, articles: int = 6, big: int = 200_000) -> Site:
    """The standard test site. ``big``: size of the too-large pages (tests set a lower limit)."""
    site = Site(host)
    o = site.origin
    for n in range(1, articles + 1):
        site.route(f"/articles/{n}", article_route(n))
    site.route(
        "/robots.txt",
        Reply(
            200,
            b"User-agent: *\nDisallow: /private/\n\nSitemap: " + f"{o}/sitemap.xml".encode(),
            {"Content-Type": "text/plain"},
        ),
    )
    site.route("/private/secret", Reply(200, article_html(99), HTML))
    half = articles // 2
    site.route("/feed.xml", Reply(200, rss([f"{o}/articles/{n}" for n in range(1, half + 1)]), XML))
    site.route(
        "/atom.xml",
        Reply(200, atom([f"/articles/{n}" for n in range(half + 1, articles + 1)]), XML),
    )
    site.route("/sitemap.xml", Reply(200, sitemap_index([f"{o}/sitemap-articles.xml.gz"]), XML))
    site.route(
        "/sitemap-articles.xml.gz",
        Reply(
            200,
            gzip.compress(urlset([f"{o}/articles/{n}" for n in range(1, articles + 1)])),
            {"Content-Type": "application/gzip"},
        ),
    )
    site.route(
        "/home",
        Reply(
            200,
            b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
            b"</head><body>home</body></html>",
            HTML,
        ),
    )
    site.route("/slow", Reply(200, article_html(7), HTML, delay=1.5))
    site.route("/loop-a", Reply(302, headers={"Location": "/loop-b"}))
    site.route("/loop-b", Reply(302, headers={"Location": f"{o}/loop-a"}))
    for i in range(10):
        site.route(f"/chain/{i}", Reply(301, headers={"Location": f"/chain/{i + 1}"}))
    site.route("/moved", Reply(301, headers={"Location": "/articles/1"}))
    site.route("/big", Reply(200, b"x" * big, HTML))
    site.route("/big-stream", Reply(200, b"<p>" + b"y" * 65533, HTML, stream_bytes=big * 3))
    site.route(
        "/bomb", Reply(200, GZIP_BOMB, {"Content-Type": "text/html", "Content-Encoding": "gzip"})
    )
    site.route(
        "/gzipped",
        Reply(
            200,
            gzip.compress(article_html(8)),
            {"Content-Type": "text/html", "Content-Encoding": "gzip"},
        ),
    )
    site.route("/image.png", Reply(200, b"\x89PNG\r\n\x1a\n", {"Content-Type": "image/png"}))
    site.route("/flaky", _flaky)
    site.route("/to-metadata", Reply(302, headers={"Location": "http://169.254.169.254/latest/"}))
    site.route("/to-private", Reply(302, headers={"Location": "http://10.0.0.1/admin"}))
    return site


def _flaky(_request: Request, count: int) -> Reply:
    if count == 1:
        return Reply(429, b"slow down", {"Retry-After": "1", "Content-Type": "text/plain"})
    return Reply(200, article_html(9), HTML)


def fake_dns(table: dict[str, list[str]]) -> Any:
    """A ``socket.getaddrinfo`` stand-in answering from ``table`` (host -> addresses)."""

    def resolve(host: str, port: int, *_args: Any) -> list[tuple[Any, ...]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port),
            )
            for ip in table[host]
        ]

    return resolve
