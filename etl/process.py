"""Extract and enrich in worker processes, so that every core parses and tags.

Each worker loads the spaCy pipeline once; work goes out in small batches with a bounded
number in flight, so memory stays flat however many inputs a run has.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from etl.enrich import enrich, load_nlp
from etl.errors import InputRejected
from etl.extract import extract
from etl.outcomes import Rejection
from etl.record import Article, RawInput

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Processed:
    """One input after extraction and enrichment: its article, or why it was rejected."""

    raw: RawInput
    article: Article | None = None
    rejection: Rejection | None = None


@dataclass(frozen=True, slots=True)
class ProcessOptions:
    """What workers need to extract and enrich: the model, its batch size, the minimum length."""

    model: str
    nlp_batch_size: int
    min_words: int


def process_batch(raws: Sequence[RawInput], options: ProcessOptions) -> list[Processed]:
    """Extract then enrich a batch; an input that fails is rejected alone, never the batch."""
    results: list[Processed] = []
    for raw in raws:
        try:
            results.append(Processed(raw, article=extract(raw, min_words=options.min_words)))
        except InputRejected as exc:
            results.append(Processed(raw, rejection=exc.rejection))
        except Exception as exc:  # a parser bug on one page must not stop the batch
            results.append(Processed(raw, rejection=Rejection.of(exc, "extraction failed")))
    extracted = [(p, p.article) for p in results if p.article is not None]
    if extracted:
        nlp = load_nlp(options.model)
        try:
            enriched = enrich([a for _, a in extracted], nlp, batch_size=options.nlp_batch_size)
        except Exception:
            # Retry one by one so a single bad document is the only one rejected.
            for p, article in extracted:
                try:
                    (p.article,) = enrich([article], nlp, batch_size=1)
                except Exception as exc:
                    p.rejection = Rejection.of(exc, "enrichment failed")
                    p.article = None
        else:
            for (p, _), article in zip(extracted, enriched, strict=True):
                p.article = article
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for p in results:
        if p.article is not None:
            p.article = replace(p.article, processed_at=stamp)
            p.raw.data = b""  # the bytes are done with; do not ship them back
    return results


def _init_worker(model: str, owner: int) -> None:
    """Worker start: bind the worker's life to its parent's, then load the model."""
    die_with_parent(owner)
    load_nlp(model)


def die_with_parent(owner: int, poll: float = 0.5) -> None:
    """End this process when its parent dies, however it dies (``kill -9``, the OOM killer,
    Airflow killing the task): a worker left behind would hold its memory (a spaCy model)
    and wait for work for ever.

    Two mechanisms: on Linux the kernel sends SIGKILL when the parent exits
    (``prctl(PR_SET_PDEATHSIG)``); everywhere, a thread notices that the process was
    re-parented or that ``owner`` (the process that owns the pool) is gone. The thread also
    covers a worker started by a fork server (whose parent is the fork server, which exits
    when the pool's owner does) and a parent that died before the ``prctl`` call."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError) as exc:  # no prctl here: the thread still watches
            log.debug("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)
    parent = os.getppid()
    if not _alive(owner) or not _alive(parent):
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll)
            if os.getppid() != parent or not _alive(owner):
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


_PR_SET_PDEATHSIG = 1


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return False
    except OSError:
        pass  # no /proc: ask the kernel
    else:
        state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
        return state not in (b"Z", b"X", b"x")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def batched(items: Iterable[RawInput], size: int) -> Iterator[list[RawInput]]:
    batch: list[RawInput] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def process_stream(
    raws: Iterable[RawInput], options: ProcessOptions, *, workers: int, batch_size: int = 8
) -> Iterator[list[Processed]]:
    """Processed batches, in input order. ``workers <= 1`` runs in this process."""
    if workers > 1 and multiprocessing.current_process().daemon:
        # Daemonic processes (e.g. some executors' pool workers) may not start children.
        log.info("running in a daemonic process: extraction and NER stay in this process")
        workers = 1
    if workers <= 1:
        for batch in batched(raws, batch_size):
            yield process_batch(batch, options)
        return
    yield from _Pool(options, workers).run(batched(raws, batch_size))


WORKER_DIED = Rejection(
    "worker process died while processing it, twice (a crash, or killed: out of memory?)"
)


class _Pool:
    """The worker processes, and what happens when one dies.

    A worker that dies (a parser crash, the OOM killer) breaks the whole pool: every batch in
    flight fails. Those batches are then run again one input at a time in a new pool; an input
    whose worker dies again is rejected alone, and the rest of the run goes on."""

    def __init__(self, options: ProcessOptions, workers: int) -> None:
        self.options = options
        self.workers = workers
        start = "forkserver" if _threads_running() else "fork"
        self.context = multiprocessing.get_context(start)
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=self.context,
            initializer=_init_worker,
            initargs=(self.options.model, os.getpid()),
        )

    def run(self, batches: Iterable[list[RawInput]]) -> Iterator[list[Processed]]:
        in_flight: deque[tuple[list[RawInput], Future[list[Processed]]]] = deque()
        try:
            for batch in batches:
                in_flight.append((batch, self.pool.submit(process_batch, batch, self.options)))
                if len(in_flight) >= self.workers * 3:
                    yield from self._next(in_flight)
            while in_flight:
                yield from self._next(in_flight)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _next(
        self, in_flight: deque[tuple[list[RawInput], Future[list[Processed]]]]
    ) -> Iterator[list[Processed]]:
        """The oldest batch's results; after a worker died, those of every batch in flight."""
        batch, future = in_flight.popleft()
        try:
            yield future.result()
            return
        except BrokenProcessPool:
            pass
        log.warning(
            "a worker process died; the %d batches in flight run again one input at a time",
            len(in_flight) + 1,
        )
        suspects = [(batch, future), *in_flight]
        in_flight.clear()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = self._new_pool()
        for each, done in suspects:
            if done.done() and not done.cancelled() and done.exception() is None:
                yield done.result()  # finished before the pool broke
            else:
                yield [self._alone(raw) for raw in each]

    def _alone(self, raw: RawInput) -> Processed:
        try:
            (result,) = self.pool.submit(process_batch, [raw], self.options).result()
            return result
        except BrokenProcessPool:
            log.warning("%s: its worker process died again: rejected", raw.key)
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = self._new_pool()
            return Processed(raw, rejection=WORKER_DIED)


def _threads_running() -> bool:
    """Forking a process with threads can deadlock in the child (locks held by other
    threads); Airflow workers run threads, so there a fork server starts the workers."""
    return threading.active_count() > 1
