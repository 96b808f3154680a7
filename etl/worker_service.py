"""Warm workers kept between runs: ``article-etl workers`` starts the worker processes once,
each loads the spaCy model once, and ingest runs send their batches to them over a Unix socket
(``ARTICLE_ETL_WORKER_SERVICE``). A run with little to do then pays no worker start: importing
spaCy and loading its model costs each new worker about 0.8 s here, more than the work of 5%
of the benchmark corpus.

Several runs may use it at once (the mapped tasks of a DAG run): their batches share the
workers, first come first served. A run that finds no service, or one running other code or
another model, starts its own workers, as without a service, and says why in one line.
A service that stops answering in the middle of a run loses nothing: the batches it had not
returned, and the rest, go to workers started for the run.

Messages are pickles, so only who holds the service's key may talk to it: the key is written
beside the socket (``<socket>.key``, mode 0600) and both sides prove they hold it (HMAC of the
other's random challenge) before anything is unpickled. The socket itself is mode 0600.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import logging
import os
import socket
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from multiprocessing.connection import Connection, Listener
from pathlib import Path

import etl
from etl import disk_cache
from etl.errors import SetupError
from etl.process import (
    Processed,
    ProcessOptions,
    WorkerPool,
    balanced_batches,
    in_flight_limit,
    once_one_arrives,
    process_stream,
)
from etl.record import RawInput

log = logging.getLogger(__name__)

PROTOCOL = b"article-etl-workers/1"
HANDSHAKE_TIMEOUT = 10.0  # seconds a side waits for the other's part of the handshake
WARM_UP_TIMEOUT = 300.0  # seconds the workers may take to load the model at the start
_NONCE = 32


def key_path(address: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(address)}.key")


@cache
def code_version() -> str:
    """What a run and the service must share for the service's results to be the run's: the
    source of the ``etl`` package, the versions of what workers use, and Python's version."""
    digest = hashlib.sha256()
    root = Path(etl.__file__).parent
    for source in sorted(root.rglob("*.py")):
        digest.update(str(source.relative_to(root)).encode() + b"\0" + source.read_bytes())
    packages = ("trafilatura", "spacy", "dateparser", "lxml", "htmldate", "courlan")
    return disk_cache.fingerprint(packages=packages) + digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Hello:
    """What a run tells the service once the handshake is done."""

    code: str
    options: ProcessOptions


def refusal(hello: object, model: str) -> str | None:
    """Why the service cannot serve this run, or None."""
    if not isinstance(hello, Hello):
        return "not a run of this version of article-etl"
    if hello.code != code_version():
        return "it runs another version of article-etl or of its libraries: restart it"
    if hello.options.model != model:
        return f"it has loaded the model {model!r}, this run uses {hello.options.model!r}"
    return None


# --- the handshake: each side proves it holds the key before anything is unpickled ----------


class HandshakeError(Exception):
    """The other side does not speak this protocol, or does not hold the key."""


def _mac(key: bytes, nonce: bytes) -> bytes:
    return hmac.new(key, nonce, hashlib.sha256).digest()


def _recv_bytes(conn: Connection, timeout: float) -> bytes:
    if not conn.poll(timeout):
        raise HandshakeError(f"no answer in {timeout:g} s")
    return conn.recv_bytes(1024)


def _greet(conn: Connection, key: bytes) -> None:
    """The service's side."""
    nonce = os.urandom(_NONCE)
    conn.send_bytes(PROTOCOL + b" " + nonce)
    answer = _recv_bytes(conn, HANDSHAKE_TIMEOUT)
    mac, their_nonce = answer[:32], answer[32:]
    if not hmac.compare_digest(mac, _mac(key, nonce)) or len(their_nonce) != _NONCE:
        raise HandshakeError("a client without the key")
    conn.send_bytes(_mac(key, their_nonce))


def _answer(conn: Connection, key: bytes) -> None:
    """The run's side."""
    greeting = _recv_bytes(conn, HANDSHAKE_TIMEOUT)
    protocol, _, nonce = greeting.partition(b" ")
    if protocol != PROTOCOL:
        raise HandshakeError(f"it speaks {protocol[:40]!r}, not {PROTOCOL.decode()}")
    mine = os.urandom(_NONCE)
    conn.send_bytes(_mac(key, nonce) + mine)
    if not hmac.compare_digest(_recv_bytes(conn, HANDSHAKE_TIMEOUT), _mac(key, mine)):
        raise HandshakeError("it does not hold the key")


# --- the run's side --------------------------------------------------------------------------


def process_on_service(
    address: str,
    raws: Iterable[RawInput],
    options: ProcessOptions,
    *,
    workers: int,
    batch_size: int = 8,
) -> Iterator[list[Processed]]:
    """``process_stream`` on the warm workers of the service at ``address``; on ``workers`` of
    the run's own when it cannot serve the run. It is asked when the first input arrives."""
    inputs = once_one_arrives(raws)
    if inputs is None:
        return
    remote = connect(address, options, workers)
    if remote is None:
        yield from process_stream(inputs, options, workers=workers, batch_size=batch_size)
    else:
        yield from remote.run(balanced_batches(inputs, batch_size, remote.workers))


def connect(address: str, options: ProcessOptions, local_workers: int) -> RemoteWorkers | None:
    """The service at ``address`` ready to serve this run, or None when it cannot (the reason
    is logged: the run then starts its own workers)."""
    conn: Connection | None = None
    try:
        key = key_path(address).read_bytes()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(HANDSHAKE_TIMEOUT)
            sock.connect(address)
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        conn = Connection(sock.detach())
        _answer(conn, key)
        conn.send(Hello(code_version(), options))
        if not conn.poll(HANDSHAKE_TIMEOUT):
            raise HandshakeError(f"no answer in {HANDSHAKE_TIMEOUT:g} s")
        reply = conn.recv()
    except (OSError, EOFError, HandshakeError) as exc:
        if conn is not None:
            conn.close()
        log.warning(
            "worker service at %s does not answer (%s): this run starts its own workers",
            address,
            _why(exc),
        )
        return None
    if not (isinstance(reply, tuple) and len(reply) == 2 and reply[0] == "ready"):
        conn.close()
        reason = reply[1] if isinstance(reply, tuple) and len(reply) == 2 else repr(reply)[:80]
        log.warning(
            "worker service at %s cannot serve this run (%s): this run starts its own workers",
            address,
            reason,
        )
        return None
    log.info("extraction and NER run on the worker service at %s (%d workers)", address, reply[1])
    return RemoteWorkers(conn, int(reply[1]), address, options, local_workers)


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"no {Path(exc.filename).name if exc.filename else 'socket'}: is it running?"
    if isinstance(exc, ConnectionRefusedError):
        return "nothing listens on the socket: is it running?"
    if isinstance(exc, EOFError | ConnectionResetError | BrokenPipeError):
        return "it closed the connection"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or 'the socket'}"
    return str(exc) or type(exc).__name__


@dataclass
class RemoteWorkers:
    """A run's connection to the service, through which its batches go."""

    conn: Connection
    workers: int
    address: str
    options: ProcessOptions
    local_workers: int

    def run(self, batches: Iterable[list[RawInput]]) -> Iterator[list[Processed]]:
        """The batches' results, in order; the service has at most ``in_flight_limit`` of them
        at a time, as local workers would. Only a failure of the connection falls back to
        local workers: one of ``batches`` (listing, reading) is the run's own and propagates."""
        sent: deque[list[RawInput]] = deque()
        todo = iter(batches)
        try:
            for batch in todo:
                sent.append(batch)
                self._send(batch)
                if len(sent) >= in_flight_limit(self.workers):
                    yield self._receive(sent)
            self._send(None)
            while sent:
                yield self._receive(sent)
        except _ServiceGone as gone:
            log.warning(
                "worker service at %s stopped answering (%s): its %d unfinished batches and the "
                "rest of the run go to workers started for this run",
                self.address,
                gone,
                len(sent),
            )
            self.conn.close()
            rest = itertools.chain.from_iterable(itertools.chain(list(sent), todo))
            yield from process_stream(rest, self.options, workers=self.local_workers)
        finally:
            self.conn.close()

    def _send(self, message: list[RawInput] | None) -> None:
        try:
            self.conn.send(message)
        except (OSError, EOFError) as exc:
            raise _ServiceGone(_why(exc)) from exc

    def _receive(self, sent: deque[list[RawInput]]) -> list[Processed]:
        try:
            results: list[Processed] = self.conn.recv()
        except (OSError, EOFError) as exc:
            raise _ServiceGone(_why(exc)) from exc
        sent.popleft()
        return results


class _ServiceGone(Exception):
    """The connection to the service failed: why."""


# --- the service's side ----------------------------------------------------------------------


class WorkerService:
    """Worker processes with the model loaded, serving runs on a Unix socket."""

    def __init__(
        self,
        address: Path,
        options: ProcessOptions,
        workers: int,
        report: Callable[[str], None] = lambda line: None,
        start_method: str = "forkserver",
    ) -> None:
        self.address = address
        self.options = options
        self.workers = workers
        self.report = report
        self._listener: Listener | None = None
        # The pool may be made anew (a worker died) while a run is served from a thread: a
        # fork server starts its workers, never a fork of this threaded process (tests fork,
        # so that the workers share a patched function).
        self._pool = WorkerPool(options, workers, start_method)
        self._key = b""
        self._key_written = False

    def listen(self) -> None:
        """Take the socket (and write the key beside it); runs wait until ``warm_up`` is done."""
        self._claim_address()
        self._key = os.urandom(32)
        key_file = key_path(self.address)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self._key)
        self._key_written = True
        old_umask = os.umask(0o177)  # the socket is created 0600: this user's only
        try:
            self._listener = Listener(os.fspath(self.address), family="AF_UNIX")
        except OSError as exc:  # a path too long for a socket, a read-only folder...
            raise SetupError(f"cannot listen on {self.address}: {exc.strerror or exc}") from None
        finally:
            os.umask(old_umask)

    def _claim_address(self) -> None:
        """The socket's path, free: a socket left by a service that is gone is removed, one
        that answers is another service's."""
        path = self.address
        if not path.parent.is_dir():
            raise SetupError(f"{path.parent}: no such folder for the socket")
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise SetupError(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(os.fspath(path))
        except ConnectionRefusedError:
            path.unlink()  # left behind by a service that is gone
            return
        finally:
            probe.close()
        raise SetupError(f"another worker service answers at {path}")

    def warm_up(self) -> list[int]:
        """Start the workers and wait until each has loaded the model (a task runs in a worker
        only after its start: the workers are warm once each has answered one); their ids."""
        self._pool.start()
        pids: set[int] = set()
        deadline = time.monotonic() + WARM_UP_TIMEOUT
        while len(pids) < self.workers:
            if time.monotonic() > deadline:
                raise SetupError(f"the workers did not start in {WARM_UP_TIMEOUT:g} s")
            futures = [self._pool.pool.submit(os.getpid) for _ in range(self.workers)]
            pids.update(f.result() for f in futures)
            if len(pids) < self.workers:
                time.sleep(0.05)
        return sorted(pids)

    def serve_forever(self) -> None:
        """Serve runs until interrupted (SIGINT; the command maps SIGTERM to it)."""
        listener = self._listener
        assert listener is not None, "listen() first"
        while True:
            try:
                conn = listener.accept()
            except OSError as exc:
                if self._listener is None:  # closed: the service is stopping
                    return
                log.warning("worker service: a connection failed: %s", exc)  # it goes on
                continue
            if self._listener is None:  # woken by close()
                conn.close()
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        with conn:
            try:
                _greet(conn, self._key)
                if not conn.poll(HANDSHAKE_TIMEOUT):
                    return
                hello = conn.recv()
            except (OSError, EOFError, HandshakeError) as exc:
                self.report(f"refused a connection: {_why(exc)}")
                return
            reason = refusal(hello, self.options.model)
            if reason is not None:
                self._send_quietly(conn, ("refused", reason))
                self.report(f"refused a run: {reason}")
                return
            assert isinstance(hello, Hello)
            self._serve_run(conn, hello.options)

    def _serve_run(self, conn: Connection, options: ProcessOptions) -> None:
        started = time.perf_counter()
        inputs = 0
        try:
            conn.send(("ready", self.workers))
            for results in self._pool.run(_batches(conn), options):
                conn.send(results)
                inputs += len(results)
        except (OSError, EOFError) as exc:
            self.report(f"a run went away after {inputs} inputs ({_why(exc)})")
            return
        except Exception as exc:  # a defect: that run falls back, the service goes on
            log.exception("worker service: serving a run failed")
            self.report(f"serving a run failed after {inputs} inputs: {exc}")
            return
        self.report(f"served a run: {inputs} inputs in {time.perf_counter() - started:.1f} s")

    @staticmethod
    def _send_quietly(conn: Connection, message: object) -> None:
        with contextlib.suppress(OSError):
            conn.send(message)

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            # Closing a socket does not wake a thread blocked in accept(): a connection does.
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as wake:
                wake.connect(os.fspath(self.address))
            listener.close()  # removes the socket file
        if self._key_written:
            key_path(self.address).unlink(missing_ok=True)
        self._pool.close()


def _batches(conn: Connection) -> Iterator[list[RawInput]]:
    """A run's batches as it sends them; it sends None after the last."""
    while True:
        batch = conn.recv()
        if batch is None:
            return
        yield batch
