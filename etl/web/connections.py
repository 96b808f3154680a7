"""Connections the fetcher may make, and how long a response may take.

- a urllib3 pool manager whose connections resolve the host name once, check every address
  with ``NetGuard`` and connect to a checked address (no second DNS lookup to be rebound);
- a whole-response deadline per request, enforced by one watchdog thread per process.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.response import HTTPResponse
from urllib3.util.connection import create_connection as create_connection  # tests spy on it

from etl.settings import Settings
from etl.web.netguard import NetGuard
from etl.web.protocol import FetchError

# --- the whole-response deadline --------------------------------------------------------


class Deadline:
    """The deadline of one request: its status line, headers and whole body must have arrived
    by ``at``. The read timeout alone never fires against a server that sends a byte a
    second, and a blocking read cannot be told to stop early, so at the deadline the
    watchdog shuts the request's socket down: whatever read is waiting then ends at once
    (and the error it raises is reported as this deadline)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def reason(self) -> str:
        return f"timeout after {self.seconds:g}s (whole response deadline)"

    def watch(self, sock: socket.socket | None) -> None:
        """The socket the response arrives on (a pooled connection's differs per request)."""
        with self._lock:
            if self.done or sock is None:
                return
            self._sock = sock
            if self.expired:
                _shutdown(sock)

    def fire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            if self._sock is not None:
                _shutdown(self._sock)

    def check(self) -> None:
        if self.expired or time.monotonic() >= self.at:
            self.expired = True
            raise FetchError(self.reason)

    def close(self) -> None:
        """The request is over: the socket (maybe back in the pool) is no longer ours."""
        with self._lock:
            self.done = True
            self._sock = None


def _shutdown(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for an SSLSocket: SSLSocket.shutdown would drop the
    # TLS state under a read that is still running in another thread.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """One thread per process that fires deadlines when they are due."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self, seconds: float) -> Deadline:
        deadline = Deadline(seconds)
        with self._cond:
            if len(self._heap) > 4096:  # drop finished requests' entries now and then
                self._heap = [e for e in self._heap if not e[2].done]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(
                    target=self._run, name="fetch-deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return deadline

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)[2].fire()


WATCHDOG = Watchdog()
_current = threading.local()  # the deadline of the request this thread is sending


def set_current_deadline(deadline: Deadline | None) -> None:
    """The deadline of the request this thread sends next (``None`` once it is sent): the
    connection it goes out on hands its socket to that deadline."""
    _current.deadline = deadline


def _watch_current(sock: socket.socket | None) -> None:
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


# --- guarded connections ----------------------------------------------------------------


def _connect_checked(conn: HTTPConnection, guard: NetGuard) -> socket.socket:
    """Replacement for urllib3's ``_new_conn``: resolve, check every address, connect to one.

    The TLS layer (HTTPSConnection) still uses ``conn.host`` for SNI and certificate checks,
    and the Host header is the URL's, so only *where* we connect changes."""
    try:
        addresses = guard.resolve(conn._dns_host, conn.port)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    last_error: OSError | None = None
    for address in addresses:
        try:
            return create_connection(
                (address, conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"connect timeout={conn.timeout}") from exc
        except OSError as exc:
            last_error = exc
    raise NewConnectionError(
        conn, f"Failed to establish a new connection: {last_error}"
    ) from last_error


def guarded_pool_manager(guard: NetGuard, settings: Settings) -> urllib3.PoolManager:
    """A pool manager that connects only to addresses ``guard`` allows, deadlines watched."""

    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _connect_checked(self, guard)

        def getresponse(self) -> HTTPResponse:  # type: ignore[override]
            _watch_current(self.sock)  # from the status line on, the deadline holds
            return super().getresponse()

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _connect_checked(self, guard)

        def getresponse(self) -> HTTPResponse:  # type: ignore[override]
            _watch_current(self.sock)
            return super().getresponse()

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    # No proxy support on purpose: a proxy would connect on our behalf, unchecked.
    manager = urllib3.PoolManager(
        num_pools=max(64, settings.fetch_concurrency * 4), maxsize=4, block=False
    )
    manager.pool_classes_by_scheme = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}
    return manager
