"""Extract and enrich in worker processes, so that both cores parse and tag.

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
from dataclasses import dataclass
from datetime import UTC, datetime

from etl.enrich import enrich, load_nlp
from etl.extract import Rejected, extract
from etl.record import Article
from etl.sources import RawInput

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Processed:
    raw: RawInput
    article: Article | None = None
    rejection: str | None = None


@dataclass(frozen=True, slots=True)
class ProcessOptions:
    model: str
    nlp_batch_size: int
    min_words: int


def process_batch(raws: Sequence[RawInput], options: ProcessOptions) -> list[Processed]:
    """Extract then enrich a batch; an input that fails is rejected alone, never the batch."""
    results: list[Processed] = []
    for raw in raws:
        try:
            results.append(Processed(raw, article=extract(raw, min_words=options.min_words)))
        except Rejected as exc:
            results.append(Processed(raw, rejection=str(exc)))
        except Exception as exc:  # a parser bug on one page must not stop the batch
            results.append(
                Processed(raw, rejection=f"extraction failed: {type(exc).__name__}: {exc}")
            )
    articles = [p.article for p in results if p.article is not None]
    if articles:
        nlp = load_nlp(options.model)
        try:
            enrich(articles, nlp, batch_size=options.nlp_batch_size)
        except Exception:
            # Retry one by one so a single bad document is the only one rejected.
            for p in results:
                if p.article is not None:
                    try:
                        enrich([p.article], nlp, batch_size=1)
                    except Exception as exc:
                        p.rejection = f"enrichment failed: {type(exc).__name__}: {exc}"
                        p.article = None
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for p in results:
        if p.article is not None:
            p.article.processed_at = stamp
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
    context = multiprocessing.get_context("forkserver" if _threads_running() else "fork")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(options.model, os.getpid())
    ) as pool:
        in_flight: deque[Future[list[Processed]]] = deque()
        for batch in batched(raws, batch_size):
            in_flight.append(pool.submit(process_batch, batch, options))
            if len(in_flight) >= workers * 3:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


def _threads_running() -> bool:
    """Forking a process with threads can deadlock in the child (locks held by other
    threads); Airflow workers run threads, so there a fork server starts the workers."""
    return threading.active_count() > 1
