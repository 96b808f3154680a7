"""The batch: inputs -> (unchanged? skip) -> extract + enrich -> duplicate? -> index -> ledger.

Every input ends in exactly one recorded outcome: indexed, unchanged, duplicate or rejected
with a reason. An input is recorded only once its document is in the index, so when the index
fails for good (``TransientIndexError``) the run fails and the rest stay pending.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl.backends import open_backend
from etl.backends.base import IndexBackend
from etl.ledger import Ledger, SourceState
from etl.process import Processed, ProcessOptions, process_stream
from etl.record import PIPELINE_VERSION, Article, InputOutcome, Outcome
from etl.settings import Settings, redact_url
from etl.sources import RawInput, discover, read_inputs

DONE = {Outcome.INDEXED.value, Outcome.DUPLICATE.value}


@dataclass(slots=True)
class RunReport:
    run_id: str
    status: str  # ok, failed, dry_run
    index: str
    outcomes: list[InputOutcome] = field(default_factory=list)
    elapsed_s: float = 0.0
    message: str = ""

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
            "elapsed_s": round(self.elapsed_s, 2),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "message": self.message,
            "outcomes": [o.as_dict() for o in self.outcomes],
        }

    def table(self) -> str:
        """A plain-text outcome table for logs."""
        width = max([len(o.source) for o in self.outcomes] + [6])
        width = min(width, 80)
        lines = [f"{'input':<{width}}  {'outcome':<9}  detail"]
        for o in self.outcomes:
            detail = o.reason or (f"same content as {o.duplicate_of}" if o.duplicate_of else "")
            detail = detail or (o.title[:60] if o.title else "")
            lines.append(f"{_shorten(o.source, width):<{width}}  {o.outcome.value:<9}  {detail}")
        lines.append(" ".join(f"{k}={v}" for k, v in self.counts.items()))
        return "\n".join(lines)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def split_inputs(inputs: Sequence[str]) -> tuple[list[str], list[str]]:
    urls = [i for i in inputs if i.startswith(("http://", "https://"))]
    return urls, [i for i in inputs if i not in urls]


def changed_files(paths: Sequence[str], settings: Settings) -> list[str]:
    """Files under ``paths`` that are new or whose bytes changed since they were indexed.

    Cheap: one read and hash per file, no parsing."""
    from etl.record import sha256_hex

    files = discover(paths, settings.include, settings.exclude)
    ledger = Ledger(settings.ledger_path)
    try:
        known = ledger.settled_hashes(PIPELINE_VERSION)
    finally:
        ledger.close()
    changed = []
    for path in files:
        key = str(path)
        if key not in known or path.name.lower().endswith((".jsonl", ".ndjson", ".gz")):
            changed.append(key)  # container files: their records are checked one by one
            continue
        try:
            if sha256_hex(path.read_bytes()) != known[key]:
                changed.append(key)
        except OSError:
            changed.append(key)  # unreadable: let the run record why
    return changed


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
    files = discover(paths, settings.include, settings.exclude)
    missing = [p for p in paths if not Path(p).exists()]
    raws: list[Iterable[RawInput]] = [
        [
            RawInput(
                key=str(Path(p).absolute()), kind="file", rejection="no such file or directory"
            )
            for p in missing
        ],
        read_inputs([f for f in files if f.exists()], settings.max_input_bytes),
    ]
    ledger = Ledger(settings.ledger_path)
    if urls or feeds or sitemaps or url_lists:
        raws.append(_url_inputs(urls, settings, ledger, feeds, sitemaps, url_lists))
    report = RunReport(run_id="dry-run", status="dry_run", index=redact_url(settings.index))
    backend: IndexBackend | None = None
    try:
        if not dry_run:
            report.run_id = ledger.start_run(report.index)
            backend = open_backend(settings)
            backend.ensure_ready()
        bar = _progress_bar(len(files)) if progress else nullcontext(None)
        with bar as advance:

            def emit(outcome: InputOutcome) -> None:
                report.outcomes.append(outcome)
                if advance is not None:
                    advance(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)

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
    except BaseException as exc:
        # The run is recorded as failed with why; what it did record stays recorded.
        report.status = "failed"
        report.message = str(exc) or type(exc).__name__
        raise
    finally:
        report.elapsed_s = time.perf_counter() - started
        if not dry_run and report.run_id != "dry-run":
            ledger.finish_run(report.run_id, report.status, report.counts, report.message)
        ledger.close()
        if backend is not None:
            backend.close()
    return report


def _chain(sources: Iterable[Iterable[RawInput]]) -> Iterator[RawInput]:
    for source in sources:
        yield from source


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

    found, rejected = discover_urls(
        urls, settings, feeds=feeds, sitemaps=sitemaps, list_files=url_lists
    )
    yield from rejected
    known = {
        k: s.raw_hash for k, s in ledger.states(found).items() if s.raw_hash and s.outcome in DONE
    }
    yield from fetch_inputs(found, settings, cache_path=settings.ledger_path, known_hashes=known)


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
            states = ledger.states(r.key for r in chunk)
            skipped: list[InputOutcome] = []
            for raw in chunk:
                settled = _settled_outcome(raw, states.get(raw.key), reprocess=reprocess)
                if settled is None:
                    yield raw
                else:
                    skipped.append(settled)
            if skipped and not dry_run:
                # Unchanged inputs keep their state; a still-rejected one is recorded again.
                hashes = {o.source: (_known_hash(states.get(o.source)), None) for o in skipped}
                ledger.record(run_id, skipped, hashes, PIPELINE_VERSION)
            for outcome in skipped:
                emit(outcome)

    for batch in process_stream(to_process(), options, workers=settings.workers):
        _settle(batch, ledger, backend, run_id, emit, seen_content, dry_run=dry_run)


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
        hashes[key] = (p.raw.raw_hash if p.raw.data else _raw_hash_of(p), None)
        if p.article is None:
            outcomes[key] = InputOutcome(key, Outcome.REJECTED, reason=p.rejection or "rejected")
            continue
        article = p.article
        hashes[key] = (article.raw_hash, article.content_hash)
        holder = seen_content.get(article.content_hash) or ledger.holder_of_content(
            article.content_hash, other_than=key
        )
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

    if to_index and backend is not None:
        # Raises TransientIndexError when the index is gone: nothing of this batch is recorded.
        for result in backend.upsert(to_index):
            if not result.ok:
                source = next(a.source for a in to_index if a.id == result.doc_id)
                outcomes[source] = InputOutcome(
                    source,
                    Outcome.REJECTED,
                    reason=f"index refused it: {result.reason}",
                    doc_id=result.doc_id,
                )
        _drop_replaced(to_index, outcomes, ledger, backend)
    ordered = [outcomes[p.raw.key] for p in batch]
    if not dry_run:
        ledger.record(run_id, ordered, hashes, PIPELINE_VERSION)
    for outcome in ordered:
        emit(outcome)


def _raw_hash_of(p: Processed) -> str | None:
    return p.article.raw_hash if p.article is not None else None


def _drop_replaced(
    indexed: Sequence[Article],
    outcomes: dict[str, InputOutcome],
    ledger: Ledger,
    backend: IndexBackend,
) -> None:
    """A changed input whose document id changed (the id follows the content when there is no
    canonical URL): remove its old document unless another input still holds it."""
    states = ledger.states(a.source for a in indexed)
    stale = []
    for article in indexed:
        state = states.get(article.source)
        if outcomes[article.source].outcome is not Outcome.INDEXED or state is None:
            continue
        if state.doc_id and state.doc_id != article.id and state.outcome == Outcome.INDEXED.value:
            others = [s for s in ledger.sources_of_doc(state.doc_id) if s != article.source]
            if not others:
                stale.append(state.doc_id)
    if stale:
        backend.delete(stale)


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
