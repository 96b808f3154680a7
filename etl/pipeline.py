"""The batch: inputs -> (unchanged? skip) -> extract + enrich -> duplicate? -> index -> ledger.

Every input ends in exactly one recorded outcome: indexed, unchanged, duplicate or rejected
with a reason. An input is recorded only once its document is in the index, so when the index
fails for good (``TransientIndexError``) the run fails and the rest stay pending.

The index and the ledger converge whenever a run is killed: before a batch touches the index
the ledger notes the documents that may change there (``_add_pending``); once the outcomes are
recorded, stale documents are deleted and the note cleared (``_drop_stale``). An input left
noted by a run that ended without finishing is processed again by the next run that meets it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.backends import open_backend
from etl.backends.base import IndexBackend, IndexError_, IndexResult
from etl.clusters import with_story_clusters
from etl.ledger import Ledger, SourceState
from etl.process import Processed, ProcessOptions, process_stream
from etl.record import PIPELINE_VERSION, Article, InputOutcome, Outcome
from etl.settings import Settings, redact_url
from etl.sources import RawInput, discover, is_warc_file, read_file
from etl.warc import archive_state, archives_read, mark_archives_read

DONE = {Outcome.INDEXED.value, Outcome.DUPLICATE.value}
LOG = logging.getLogger(__name__)
# Failures of the ledger's database itself (locked, disk full, I/O): about the run, not about
# one input, so they fail the run (and its inputs stay pending) instead of rejecting inputs.
_RUN_LEVEL_ERRORS = (sqlite3.OperationalError,)
_INDEX_OR_RUN_LEVEL_ERRORS = (IndexError_, sqlite3.OperationalError)


@dataclass(slots=True)
class RunReport:
    run_id: str
    status: str  # ok, failed, dry_run
    index: str
    outcomes: list[InputOutcome] = field(default_factory=list)
    elapsed_s: float = 0.0
    message: str = ""
    # Records of web archives that are not articles (request, revisit, non-HTML...), by why:
    # not inputs, so they have no outcome; counted so that nothing read goes unaccounted.
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(o.outcome.value for o in self.outcomes)
        return {o.value: counted.get(o.value, 0) for o in Outcome}

    def summary(self) -> dict[str, Any]:
        """Small and JSON-able (fit for an Airflow XCom): never the articles themselves."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "index": self.index,
            "counts": self.counts,
            "skipped": dict(sorted(self.skipped.items())),
            "elapsed_s": round(self.elapsed_s, 2),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "message": self.message,
            "outcomes": [o.as_dict() for o in self.outcomes],
        }

    def table(self, root: str | None = None) -> str:
        """A plain-text outcome table for logs; files under ``root`` shown relative to it."""

        def shown(source: str) -> str:
            if root and "://" not in source and os.path.isabs(source):
                relative = os.path.relpath(source, root)
                if not relative.startswith(".."):
                    return relative
            return source

        sources = [shown(o.source) for o in self.outcomes]
        width = min(max([len(s) for s in sources] + [6]), 80)
        lines = [f"{'input':<{width}}  {'outcome':<9}  detail"]
        for o, source in zip(self.outcomes, sources, strict=True):
            detail = o.reason or (f"same content as {o.duplicate_of}" if o.duplicate_of else "")
            detail = detail or (o.title[:60] if o.title else "")
            lines.append(f"{_shorten(source, width):<{width}}  {o.outcome.value:<9}  {detail}")
        lines.append(" ".join(f"{k}={v}" for k, v in self.counts.items()))
        if self.skipped:
            lines.append(
                f"skipped (web archive records that are not articles): {skipped_text(self.skipped)}"
            )
        return "\n".join(lines)


def skipped_text(skipped: Mapping[str, int]) -> str:
    """``{"request record": 3, "revisit record": 1}`` -> "3 request record, 1 revisit record"."""
    return ", ".join(
        f"{n} {why}" for why, n in sorted(skipped.items(), key=lambda i: (-i[1], i[0]))
    )


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def split_inputs(inputs: Sequence[str]) -> tuple[list[str], list[str]]:
    urls = [i for i in inputs if i.startswith(("http://", "https://"))]
    return urls, [i for i in inputs if i not in urls]


def changed_files(paths: Sequence[str], settings: Settings) -> list[str]:
    """Files under ``paths`` that are new or whose bytes changed since they were indexed.

    Cheap: one read and hash per file (a ``.gz`` file inflated first, as the ledger hashes
    it), no parsing."""
    from etl.sources import recorded_hash

    files, unlisted = _discover(paths, settings)
    ledger = Ledger(settings.ledger_path)
    try:
        known = ledger.settled_hashes(PIPELINE_VERSION)
    finally:
        ledger.close()
    changed = [raw.key for raw in unlisted]  # the run records why
    archives = archives_read(settings.ledger_path) if any(map(is_warc_file, files)) else {}
    for path in files:
        key = safe_text(str(path))
        if is_warc_file(path):  # listed until a run has read it to the end as it is now
            if archive_state(path) is None or archives.get(key) != archive_state(path):
                changed.append(str(path))
            continue
        # None: a container file (its records are checked one by one) or a file that cannot be
        # read as one input (the run records why).
        if key not in known or recorded_hash(path, settings.max_input_bytes) != known[key]:
            changed.append(str(path))
    return changed


def safe_text(text: str) -> str:
    """``text`` as valid Unicode, unchanged when it already is.

    A file name with bytes that are not UTF-8 arrives with surrogate escapes
    (``os.fsdecode(b"bad\\xff.txt")``), and JSON may carry lone surrogates (``"\\ud800"``);
    neither SQLite, JSON output nor a terminal takes them. Such characters are written as
    backslash escapes (``bad\\xff.txt``), so the key stays readable and stable from run to
    run. (A file really named with a backslash escape would share the key; that is all.)"""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that are not escaped bytes
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _describe(exc: BaseException) -> str:
    """An exception as a rejection reason: its type and message, valid Unicode, one line."""
    text = " ".join(str(exc).split())
    return safe_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _discover(paths: Sequence[str], settings: Settings) -> tuple[list[Path], list[RawInput]]:
    """The files under ``paths``, and the paths that cannot be listed as rejected inputs.

    Each path is listed on its own: one that fails (missing, a name the system refuses, a
    folder that cannot be read) is rejected with the reason and the others are listed."""
    files: dict[Path, None] = {}
    unlisted: list[RawInput] = []
    for p in paths:
        try:
            key = str(Path(p).absolute())
        except Exception:  # no current folder, or a name the system refuses
            key = p
        try:
            if not Path(p).exists():
                unlisted.append(
                    RawInput(key=key, kind="file", rejection="no such file or directory")
                )
                continue
            found = discover([p], settings.include, settings.exclude)
        except Exception as exc:
            LOG.warning("cannot list %s: %s", safe_text(p), _describe(exc))
            unlisted.append(
                RawInput(key=key, kind="file", rejection=f"cannot list: {_describe(exc)}")
            )
            continue
        files.update(dict.fromkeys(found))
    return list(files), unlisted


ProgressCallback = Callable[[InputOutcome], None]


def log_progress(logger: logging.Logger, every: int = 25) -> ProgressCallback:
    """An ``on_outcome`` callback for logs without a progress bar (Airflow task logs): a line
    every ``every`` inputs with the counts so far."""
    counts: Counter[str] = Counter()

    def on_outcome(outcome: InputOutcome) -> None:
        counts[outcome.outcome.value] += 1
        done = sum(counts.values())
        if done % every == 0:
            logger.info(
                "%d inputs done: %s", done, ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            )

    return on_outcome


def ingest(
    inputs: Sequence[str],
    settings: Settings,
    *,
    reprocess: bool = False,
    dry_run: bool = False,
    feeds: Sequence[str] = (),
    sitemaps: Sequence[str] = (),
    url_lists: Sequence[str] = (),
    progress: bool = False,
    on_outcome: ProgressCallback | None = None,
) -> RunReport:
    """Ingest files, directories and URLs into the index ``settings.index``."""
    started = time.perf_counter()
    urls, paths = split_inputs(inputs)
    files, unlisted = _discover(paths, settings)
    skipped: Counter[str] = Counter()
    raws: list[Iterable[RawInput]] = [
        unlisted,
        _read_files(files, settings.max_input_bytes, skipped),
    ]
    ledger = Ledger(settings.ledger_path)
    if urls or feeds or sitemaps or url_lists:
        raws.append(_url_inputs(urls, settings, ledger, feeds, sitemaps, url_lists))
    report = RunReport(
        run_id="dry-run", status="dry_run", index=redact_url(settings.index), skipped=skipped
    )
    backend: IndexBackend | None = None
    try:
        if not dry_run:
            report.run_id = ledger.start_run(report.index)
            backend = with_story_clusters(open_backend(settings), settings.ledger_path)
            backend.ensure_ready()
        # A web archive holds an unknown number of inputs: no total then.
        total = 0 if any(is_warc_file(f) for f in files) else len(files)
        bar = _progress_bar(total) if progress else nullcontext(None)
        with bar as advance:

            def emit(outcome: InputOutcome) -> None:
                report.outcomes.append(outcome)
                if advance is not None:
                    advance(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)

            with backend.bulk_writes() if backend is not None else nullcontext():
                _run(
                    _chain(raws),
                    settings,
                    ledger,
                    backend,
                    report.run_id,
                    emit,
                    reprocess=reprocess,
                    dry_run=dry_run,
                )
        report.status = "dry_run" if dry_run else "ok"
        if not dry_run:
            _note_archives_read(files, settings)
    except BaseException as exc:
        # The run is recorded as failed with why; what it did record stays recorded.
        report.status = "failed"
        report.message = safe_text(str(exc) or type(exc).__name__)
        raise
    finally:
        report.elapsed_s = time.perf_counter() - started
        if not dry_run and report.run_id != "dry-run":
            ledger.finish_run(report.run_id, report.status, report.counts, report.message)
        ledger.close()
        if backend is not None:
            backend.close()
    return report


def _note_archives_read(files: Sequence[Path], settings: Settings) -> None:
    """After a run that recorded every input: its web archives need no run while they stay
    as they are (``changed_files``). Failing to note it only costs reading them again."""
    archives = {safe_text(str(f)): f for f in files if is_warc_file(f)}
    if not archives:
        return
    try:
        mark_archives_read(settings.ledger_path, archives)
    except Exception as exc:
        LOG.warning("web archives read not noted: %s", _describe(exc))


def _chain(sources: Iterable[Iterable[RawInput]]) -> Iterator[RawInput]:
    """Every input of every source, its key and texts made safe to record (``safe_text``)."""
    for source in sources:
        for raw in source:
            raw.key = safe_text(raw.key)
            raw.url = safe_text(raw.url)
            if raw.rejection is not None:
                raw.rejection = safe_text(raw.rejection)
            yield raw


def _read_files(
    files: Sequence[Path], max_bytes: int, skipped: Counter[str] | None = None
) -> Iterator[RawInput]:
    """The inputs of each file; a file that fails to read in any way is rejected alone, and
    a file that was listed but is gone by the time it is read is rejected as vanished."""
    for path in files:
        try:
            for raw in read_file(path, max_bytes, skipped):
                if raw.rejection is not None and raw.kind == "file" and _vanished(path):
                    raw.rejection = "vanished: deleted after it was listed"
                yield raw
        except Exception as exc:
            LOG.warning("cannot read %s: %s", safe_text(str(path)), _describe(exc))
            reason = "vanished: deleted after it was listed" if _vanished(path) else None
            yield RawInput(
                key=str(path),
                kind="file",
                rejection=reason or f"cannot read file: {_describe(exc)}",
            )


def _vanished(path: Path) -> bool:
    try:
        return not os.path.lexists(path)
    except Exception:
        return False


def _url_inputs(
    urls: Sequence[str],
    settings: Settings,
    ledger: Ledger,
    feeds: Sequence[str],
    sitemaps: Sequence[str],
    url_lists: Sequence[str],
) -> Iterator[RawInput]:
    from etl.fetch import fetch_inputs
    from etl.url_discovery import discover_urls

    try:
        found, rejected = discover_urls(
            urls, settings, feeds=feeds, sitemaps=sitemaps, list_files=url_lists
        )
    except Exception as exc:  # discover_urls guards each source; this is the last resort
        from etl.fetch import shown_url

        LOG.exception("URL discovery failed")
        for name in [*urls, *feeds, *sitemaps, *url_lists]:
            yield RawInput(
                key=shown_url(name),
                kind="url",
                rejection=f"URL discovery failed: {_describe(exc)}",
            )
        return
    yield from rejected
    try:
        states = ledger.states(found)
    except _RUN_LEVEL_ERRORS:
        raise
    except Exception as exc:  # only costs the conditional requests
        LOG.warning("no conditional requests this run: %s", _describe(exc))
        states = {}
    unfinished = _unfinished(ledger, found)  # fetched in full: no conditional request
    known = {
        k: s.raw_hash
        for k, s in states.items()
        if s.raw_hash and s.outcome in DONE and k not in unfinished
    }
    pending = dict.fromkeys(found)
    try:
        for raw in fetch_inputs(
            found, settings, cache_path=settings.ledger_path, known_hashes=known
        ):
            pending.pop(raw.key, None)
            yield raw
    except _RUN_LEVEL_ERRORS:
        raise
    except Exception as exc:  # fetch_input never raises; the dispatcher around it might
        LOG.exception("fetching failed")
        for url in pending:
            yield RawInput(
                key=url, kind="url", url=url, rejection=f"fetch failed: {_describe(exc)}"
            )


def _run(
    raws: Iterable[RawInput],
    settings: Settings,
    ledger: Ledger,
    backend: IndexBackend | None,
    run_id: str,
    emit: ProgressCallback,
    *,
    reprocess: bool,
    dry_run: bool,
    window: int = 64,
) -> None:
    """Skip unchanged inputs, process the rest in worker processes, index and record."""
    options = ProcessOptions(settings.spacy_model, settings.nlp_batch_size, settings.min_words)
    seen_content: dict[str, tuple[str, str]] = {}  # content hash -> (doc id, source) this run

    def to_process() -> Iterator[RawInput]:
        for chunk in _windows(raws, window):
            states, failed = _lookup(ledger, [r.key for r in chunk])
            # Inputs a run that ended without finishing left documents pending for: processed
            # again whatever their bytes, so that the index and the ledger converge.
            unfinished = _unfinished(ledger, [r.key for r in chunk])
            skipped: list[InputOutcome] = []
            for raw in chunk:
                try:
                    if raw.key in failed:
                        settled: InputOutcome | None = InputOutcome(
                            raw.key, Outcome.REJECTED, reason=failed[raw.key]
                        )
                    else:
                        settled = _settled_outcome(
                            raw, states.get(raw.key), reprocess=reprocess or raw.key in unfinished
                        )
                except _RUN_LEVEL_ERRORS:
                    raise
                except Exception as exc:
                    settled = InputOutcome(
                        raw.key, Outcome.REJECTED, reason=f"cannot be checked: {_describe(exc)}"
                    )
                if settled is None:
                    yield raw
                else:
                    skipped.append(settled)
            if skipped and not dry_run:
                # Unchanged inputs keep their state; a still-rejected one is recorded again.
                hashes = {o.source: (_known_hash(states.get(o.source)), None) for o in skipped}
                # An input that held a document and cannot be read now loses it (below).
                replaced = [o.source for o in skipped if o.outcome is Outcome.REJECTED]
                if backend is not None and replaced:
                    _add_pending(ledger, run_id, replaced, ())
                skipped = _record(ledger, run_id, skipped, hashes)
                if backend is not None and replaced:
                    _drop_stale(skipped, ledger, backend, run_id)
            for outcome in skipped:
                emit(outcome)

    for batch in process_stream(to_process(), options, workers=settings.workers):
        _settle(batch, ledger, backend, run_id, emit, seen_content, dry_run=dry_run)


def _lookup(ledger: Ledger, keys: Sequence[str]) -> tuple[dict[str, SourceState], dict[str, str]]:
    """The ledger's state of each key, and the keys whose lookup failed (with why): when the
    lookup of a window fails, each key is looked up alone so that only the bad ones fail."""
    try:
        return ledger.states(keys), {}
    except _RUN_LEVEL_ERRORS:
        raise
    except Exception as exc:
        LOG.warning("ledger lookup failed, looking up one by one: %s", _describe(exc))
    states: dict[str, SourceState] = {}
    failed: dict[str, str] = {}
    for key in keys:
        try:
            states.update(ledger.states([key]))
        except _RUN_LEVEL_ERRORS:
            raise
        except Exception as exc:
            failed[key] = f"ledger lookup failed: {_describe(exc)}"
    return states, failed


def _unfinished(ledger: Ledger, keys: Sequence[str]) -> set[str]:
    """``ledger.unfinished``; when that fails for a reason other than the database itself,
    none (it costs the convergence of those inputs until a later run, not the run)."""
    try:
        return ledger.unfinished(keys)
    except _RUN_LEVEL_ERRORS:
        raise
    except Exception as exc:
        LOG.warning("pending documents not looked up: %s", _describe(exc))
        return set()


def _record(
    ledger: Ledger,
    run_id: str,
    outcomes: Sequence[InputOutcome],
    hashes: Mapping[str, tuple[str | None, str | None]],
) -> list[InputOutcome]:
    """Record ``outcomes`` in one transaction; when that fails for a reason other than the
    database itself, one by one, so that an outcome that cannot be recorded costs only its
    input: it becomes ``rejected`` with why (recorded so if that is possible). Returns the
    outcomes as they now stand."""
    try:
        ledger.record(run_id, outcomes, hashes, PIPELINE_VERSION)
        return list(outcomes)
    except _RUN_LEVEL_ERRORS:
        raise
    except Exception as exc:
        LOG.warning("recording a batch failed, recording one by one: %s", _describe(exc))
    recorded: list[InputOutcome] = []
    for outcome in outcomes:
        try:
            ledger.record(run_id, [outcome], hashes, PIPELINE_VERSION)
            recorded.append(outcome)
            continue
        except _RUN_LEVEL_ERRORS:
            raise
        except Exception as exc:
            rejected = InputOutcome(
                outcome.source,
                Outcome.REJECTED,
                reason=f"cannot be recorded: {_describe(exc)}",
                doc_id=outcome.doc_id,
            )
        try:
            ledger.record(run_id, [rejected], {}, PIPELINE_VERSION)
        except _RUN_LEVEL_ERRORS:
            raise
        except Exception as exc:
            LOG.error("outcome of %s not recorded: %s", outcome.source, _describe(exc))
        recorded.append(rejected)
    return recorded


def _settled_outcome(
    raw: RawInput, state: SourceState | None, *, reprocess: bool
) -> InputOutcome | None:
    """The outcome of an input that needs no parsing: unreadable (rejected with the reason);
    the same bytes as last time and indexed or a duplicate then (``unchanged``); the same bytes
    that this pipeline version rejected (``rejected`` again, same reason). None: process it."""
    if raw.rejection:
        return InputOutcome(raw.key, Outcome.REJECTED, reason=raw.rejection)
    if reprocess or state is None:
        return None
    same_bytes = raw.not_modified or state.raw_hash == raw.raw_hash
    if not same_bytes:
        return None
    if state.outcome in DONE:
        return InputOutcome(raw.key, Outcome.UNCHANGED, doc_id=state.doc_id)
    if state.outcome == Outcome.REJECTED.value and state.pipeline == PIPELINE_VERSION:
        return InputOutcome(raw.key, Outcome.REJECTED, reason=state.reason)
    return None


def _known_hash(state: SourceState | None) -> str | None:
    return state.raw_hash if state is not None else None


def _windows(items: Iterable[RawInput], size: int) -> Iterator[list[RawInput]]:
    chunk: list[RawInput] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _settle(
    batch: Sequence[Processed],
    ledger: Ledger,
    backend: IndexBackend | None,
    run_id: str,
    emit: ProgressCallback,
    seen_content: dict[str, tuple[str, str]],
    *,
    dry_run: bool,
) -> None:
    """Decide each processed input's outcome, index the articles, then record the batch."""
    outcomes: dict[str, InputOutcome] = {}
    hashes: dict[str, tuple[str | None, str | None]] = {}
    to_index: list[Article] = []
    for p in batch:
        key = p.raw.key
        try:
            hashes[key] = (p.raw.raw_hash if p.raw.data else _raw_hash_of(p), None)
            if p.article is None:
                reason = safe_text(p.rejection or "rejected")
                outcomes[key] = InputOutcome(key, Outcome.REJECTED, reason=reason)
                continue
            article = p.article
            hashes[key] = (article.raw_hash, article.content_hash)
            holder = seen_content.get(article.content_hash) or ledger.holder_of_content(
                article.content_hash, other_than=key
            )
        except _RUN_LEVEL_ERRORS:
            raise
        except Exception as exc:
            outcomes[key] = InputOutcome(
                key, Outcome.REJECTED, reason=f"cannot be settled: {_describe(exc)}"
            )
            continue
        if holder is not None and holder[1] != key:
            outcomes[key] = InputOutcome(
                key,
                Outcome.DUPLICATE,
                reason=f"same content as {holder[1]}",
                doc_id=holder[0],
                duplicate_of=holder[0],
                title=article.title,
            )
            continue
        seen_content[article.content_hash] = (article.id, key)
        to_index.append(article)
        outcomes[key] = InputOutcome(key, Outcome.INDEXED, doc_id=article.id, title=article.title)

    if backend is not None:
        _add_pending(ledger, run_id, [p.raw.key for p in batch], to_index)
    if to_index and backend is not None:
        # Raises TransientIndexError when the index is gone: nothing of this batch is recorded.
        for result in _upsert(backend, to_index):
            if not result.ok:
                source = next(a.source for a in to_index if a.id == result.doc_id)
                outcomes[source] = InputOutcome(
                    source,
                    Outcome.REJECTED,
                    reason=safe_text(f"index refused it: {result.reason}"),
                    doc_id=result.doc_id,
                )
    ordered = [outcomes[p.raw.key] for p in batch]
    if not dry_run:
        ordered = _record(ledger, run_id, ordered, hashes)
    if backend is not None:
        _drop_stale(ordered, ledger, backend, run_id)
    for outcome in ordered:
        emit(outcome)


def _add_pending(
    ledger: Ledger, run_id: str, keys: Sequence[str], to_index: Sequence[Article]
) -> None:
    """Before the index is touched, the ledger notes which documents of these inputs may change
    there: each article about to be written, and the document each input held until now. A run
    killed at any point after this leaves them noted, and the next run meeting an input settles
    them (``_drop_stale``), so the index never keeps a document the ledger does not name."""
    entries = [(a.source, a.id, "write") for a in to_index]
    try:
        states = ledger.states(keys)
        entries += [
            (key, state.doc_id, "drop")
            for key, state in states.items()
            if state.doc_id and state.outcome == Outcome.INDEXED.value
        ]
        ledger.add_pending(run_id, entries)
    except _RUN_LEVEL_ERRORS:
        raise
    except Exception as exc:  # costs a stale document if the run is killed, not the inputs
        LOG.warning("pending documents not noted: %s", _describe(exc))


def _drop_stale(
    recorded: Sequence[InputOutcome], ledger: Ledger, backend: IndexBackend, run_id: str
) -> None:
    """Once outcomes are recorded: remove from the index every document noted as pending for
    these inputs (by this run, or by a run that ended without finishing) that the input does
    not hold now, unless another input holds it or another running run is writing it. A
    changed input whose document id changed (the id follows the content when there is no
    canonical URL) loses its old document here; an input now rejected or a duplicate, its own.

    A failure other than of the index or the ledger's database leaves the entries in place
    (the next run meeting these inputs tries again): it costs a stale document for a while."""
    try:
        pending = ledger.pending_for([o.source for o in recorded], run_id)
        if not pending:
            return
        held = {o.source: o.doc_id for o in recorded if o.outcome is Outcome.INDEXED}
        candidates = {e.doc_id for e in pending if e.doc_id != held.get(e.source)}
        stale = candidates - ledger.docs_in_use(candidates, run_id)
        if stale:
            backend.delete(sorted(stale))
        ledger.clear_pending(pending)
    except _INDEX_OR_RUN_LEVEL_ERRORS:
        raise
    except Exception as exc:
        LOG.warning("stale documents not removed: %s", _describe(exc))


def _upsert(backend: IndexBackend, articles: Sequence[Article]) -> list[IndexResult]:
    """``backend.upsert``; when it fails for a reason other than the index itself (which
    fails the run), the articles are indexed one by one and a failing one is refused alone."""
    try:
        return backend.upsert(articles)
    except _INDEX_OR_RUN_LEVEL_ERRORS:
        raise
    except Exception as exc:
        if len(articles) == 1:
            return [IndexResult(articles[0].id, ok=False, reason=_describe(exc))]
        LOG.warning("indexing a batch failed, indexing one by one: %s", _describe(exc))
    return [result for article in articles for result in _upsert(backend, [article])]


def _raw_hash_of(p: Processed) -> str | None:
    return p.article.raw_hash if p.article is not None else None


def _progress_bar(total: int) -> Any:
    from contextlib import contextmanager

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextmanager
    def bar() -> Iterator[ProgressCallback]:
        columns = (
            TextColumn("[bold]ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[last]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, transient=True) as prog:
            task = prog.add_task("ingest", total=total or None, last="")

            def advance(outcome: InputOutcome) -> None:
                prog.update(
                    task,
                    advance=1,
                    last=f"{outcome.outcome.value}: {Path(outcome.source).name[:40]}",
                )

            yield advance

    return bar()
