"""Extract and enrich in worker processes, so that every core parses and tags.

Each worker loads the spaCy pipeline once; work goes out in small batches with a bounded
number in flight, so memory stays flat however many inputs a run has. A file of one input goes
out as its path: its worker reads it (``etl.inputs.read_in_worker``), and no bytes come back.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import math
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

from etl import disk_cache
from etl.enrich import enrich, load_nlp
from etl.errors import InputRejected
from etl.extract import extract
from etl.inputs import read_in_worker
from etl.outcomes import Rejection
from etl.record import Article, RawInput
from etl.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Processed:
    """One input after extraction and enrichment: its article, or why it was rejected.

    A file its worker read (``RawInput.worker_read``) also brings back the stat signature seen
    just before the read (``FileHashes.note``), and ``same_bytes`` when its bytes are those with
    which the ledger takes it as settled: it was then not extracted."""

    raw: RawInput
    article: Article | None = None
    rejection: Rejection | None = None
    signature: str | None = None
    same_bytes: bool = False


@dataclass(frozen=True, slots=True)
class ProcessOptions:
    """What workers need to extract and enrich: the model, its batch size, the minimum length,
    and the folder of what they would otherwise build at every start (``etl.disk_cache``)."""

    model: str
    nlp_batch_size: int
    min_words: int
    cache_dir: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> ProcessOptions:
        return cls(
            settings.spacy_model, settings.nlp_batch_size, settings.min_words, settings.cache_dir
        )


def process_batch(raws: Sequence[RawInput], options: ProcessOptions) -> list[Processed]:
    """Read the files left to this worker, then extract and enrich the batch; an input that
    fails is rejected alone, never the batch. A file whose bytes are those the ledger has
    settled is not extracted (``Processed.same_bytes``). No bytes go back, only their hash."""
    results: list[Processed] = []
    for raw in raws:
        p = _read(raw)
        results.append(p)
        if p.same_bytes or p.rejection is not None:
            continue
        try:
            p.article = extract(p.raw, min_words=options.min_words)
        except InputRejected as exc:
            p.rejection = exc.rejection
        except Exception as exc:  # a parser bug on one page must not stop the batch
            p.rejection = Rejection.of(exc, "extraction failed")
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
        _keep_only_hash(p.raw)
    return results


def _keep_only_hash(raw: RawInput) -> None:
    """The bytes are done with: only their hash goes back (``RawInput.raw_hash``)."""
    if not raw.data:
        return
    try:
        raw.known_hash = raw.raw_hash
    except Exception:  # reading or extracting it failed the same way: rejected, without a hash
        raw.known_hash = None
    raw.data = b""


def _read(raw: RawInput) -> Processed:
    """The input as extraction starts from it: a file left for this worker is read now."""
    how = raw.worker_read
    if how is None or raw.data:
        return Processed(raw, rejection=raw.rejection)
    try:
        read, signature = read_in_worker(raw, how)
        same = read.rejection is None and read.raw_hash == how.unchanged_hash
    except Exception as exc:  # read_in_worker rejects what it cannot read: the last resort
        return Processed(raw, rejection=Rejection.of(exc, "cannot read file"))
    return Processed(read, rejection=read.rejection, signature=signature, same_bytes=same)


def _init_worker(options: ProcessOptions, owner: int) -> None:
    """Worker start: bind the worker's life to its parent's, then load the model."""
    die_with_parent(owner)
    disk_cache.use_directory(options.cache_dir)
    load_nlp(options.model)


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


BALANCED_ROUNDS = 2  # rounds of batches (one per worker each) held back to see the end coming


def balanced_batches(
    items: Iterable[RawInput], size: int, workers: int
) -> Iterator[list[RawInput]]:
    """Batches of ``size``, except at the end of the stream: what remains (a whole run when it
    is small) goes in smaller batches, their sizes differing by one at most and their number
    making the run's a multiple of ``workers``, so that the workers finish together: 26 inputs
    for two workers go as 7, 7, 6, 6 (13 each), not as 8, 8, 8, 2 (16 and 10). The end is seen
    by holding ``BALANCED_ROUNDS`` rounds of batches back."""
    workers = max(1, workers)
    held: deque[RawInput] = deque()
    sent = 0  # batches of ``size`` already yielded
    for item in items:
        held.append(item)
        if len(held) >= size * (workers * BALANCED_ROUNDS + 1):
            yield [held.popleft() for _ in range(size)]
            sent += 1
    rest = list(held)
    count = math.ceil(len(rest) / size)
    count = min(len(rest), count + (-(sent + count)) % workers)
    start = 0
    for n in range(count):
        end = start + len(rest) // count + (1 if n < len(rest) % count else 0)
        yield rest[start:end]
        start = end


def process_stream(
    raws: Iterable[RawInput],
    options: ProcessOptions,
    *,
    workers: int,
    batch_size: int = 8,
) -> Iterator[list[Processed]]:
    """Processed batches, in input order. ``workers <= 1`` runs in this process. (Warm
    workers kept between runs: ``etl.worker_service.process_on_service``.)

    Nothing starts before the first input arrives: a run with nothing to do starts no process.
    Workers start as it arrives, so that they load the model while the rest is listed."""
    start_method = _start_method()  # before the inputs start any thread (fetching URLs)
    inputs = once_one_arrives(raws)
    if inputs is None:
        return
    if workers > 1 and multiprocessing.current_process().daemon:
        # Daemonic processes (e.g. some executors' pool workers) may not start children.
        log.info("running in a daemonic process: extraction and NER stay in this process")
        workers = 1
    if workers <= 1:
        disk_cache.use_directory(options.cache_dir)
        for batch in batched(inputs, batch_size):
            yield process_batch(batch, options)
        return
    pool = WorkerPool(options, workers, start_method)
    try:
        pool.start()
        yield from pool.run(balanced_batches(inputs, batch_size, workers))
    finally:
        pool.close()


def once_one_arrives(items: Iterable[RawInput]) -> Iterator[RawInput] | None:
    """``items`` once the first has arrived (it waits for it), or None when there is none."""
    it = iter(items)
    first = next(it, None)
    return None if first is None else itertools.chain([first], it)


def in_flight_limit(workers: int) -> int:
    """Batches sent ahead of the oldest unfinished one: enough to keep every worker busy,
    few enough that memory stays flat."""
    return workers * 3


def _ready() -> None:
    """A task that only makes a worker start (``WorkerPool.start``)."""


WORKER_DIED = Rejection(
    "worker process died while processing it, twice (a crash, or killed: out of memory?)"
)


class WorkerPool:
    """The worker processes, and what happens when one dies.

    A worker that dies (a parser crash, the OOM killer) breaks the whole pool: every batch in
    flight fails. Those batches are then run again one input at a time in a new pool; an input
    whose worker dies again is rejected alone, and the rest of the run goes on."""

    def __init__(
        self, options: ProcessOptions, workers: int, start_method: str | None = None
    ) -> None:
        self.options = options
        self.workers = workers
        self.context = multiprocessing.get_context(start_method or _start_method())
        self._renew_lock = threading.Lock()
        self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=self.context,
            initializer=_init_worker,
            initargs=(self.options, os.getpid()),
        )

    def start(self) -> None:
        """Start the workers now, so that they load the model while the first batches are
        still being listed, read and triaged: as soon as the run knows it has work for them,
        not when the first batch is full."""
        for _ in range(self.workers):
            self.pool.submit(_ready)

    def run(
        self, batches: Iterable[list[RawInput]], options: ProcessOptions | None = None
    ) -> Iterator[list[Processed]]:
        """The batches' results, in order, with at most ``in_flight_limit(workers)`` batches
        sent ahead. The workers stay up for another run until ``close``; several runs may go
        on at once, from threads (``etl.worker_service``)."""
        opts = options or self.options
        in_flight: deque[_InFlight] = deque()
        try:
            for batch in batches:
                pool = self.pool
                in_flight.append((batch, pool.submit(process_batch, batch, opts), pool))
                if len(in_flight) >= in_flight_limit(self.workers):
                    yield from self._next(in_flight, opts)
            while in_flight:
                yield from self._next(in_flight, opts)
        finally:
            for _, future, _ in in_flight:  # the run was given up: drop what has not started
                future.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def _next(
        self, in_flight: deque[_InFlight], options: ProcessOptions
    ) -> Iterator[list[Processed]]:
        """The oldest batch's results; after a worker died, those of every batch in flight."""
        batch, future, broken = in_flight.popleft()
        try:
            yield future.result()
            return
        except BrokenProcessPool:
            pass
        log.warning(
            "a worker process died; the %d batches in flight run again one input at a time",
            len(in_flight) + 1,
        )
        suspects = [(batch, future, broken), *in_flight]
        in_flight.clear()
        self._renew(broken)
        for each, done, pool in suspects:
            result = None
            # Finished before the pool broke, or sent to the new pool by now (another run's
            # thread made it): its result stands.
            if pool is not broken or (done.done() and not done.cancelled()):
                try:
                    result = done.result()
                except BrokenProcessPool:
                    self._renew(pool)
                except Exception as exc:
                    log.debug("a batch failed (%s): its inputs run again one at a time", exc)
            yield result if result is not None else [self._alone(raw, options) for raw in each]

    def _alone(self, raw: RawInput, options: ProcessOptions) -> Processed:
        pool = self.pool
        try:
            (result,) = pool.submit(process_batch, [raw], options).result()
            return result
        except BrokenProcessPool:
            log.warning("%s: its worker process died again: rejected", raw.key)
            self._renew(pool)
            return Processed(raw, rejection=WORKER_DIED)

    def _renew(self, broken: ProcessPoolExecutor) -> None:
        """A new pool in place of ``broken``, unless another run made one already."""
        with self._renew_lock:
            if self.pool is broken:
                broken.shutdown(wait=True, cancel_futures=True)
                self.pool = self._new_pool()


_InFlight = tuple[list[RawInput], "Future[list[Processed]]", ProcessPoolExecutor]


def _start_method() -> str:
    """Forking a process with threads can deadlock in the child (locks held by other
    threads); Airflow workers run threads, so there a fork server starts the workers."""
    return "forkserver" if threading.active_count() > 1 else "fork"
