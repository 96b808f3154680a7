"""The batch: read -> skip settled -> process -> across documents -> decide -> index -> record.

Every input ends in exactly one recorded outcome: indexed, unchanged, duplicate or rejected
with a reason. An input is recorded only once its document is in the index, so when the index
fails for good (a ``TransientError``) the run fails and the rest stay pending.

The index and the ledger converge whenever a run is killed: before a batch touches the index
the ledger notes the documents that may change there (``Ledger.note_pending``); once the
outcomes are recorded, stale documents are deleted and the note cleared
(``Ledger.stale_documents``). An input left noted by a run that ended without finishing is
processed again by the next run that meets it.

Across documents (``etl.canon``): before deciding, a batch's titles lose the segments that
repeat across their site's pages and its people take their names across the index, from what
the batch and the ledger know (one lookup a batch); once recorded, what the indexed documents
add is noted in the ledger (``Ledger.known``) for the next batches and runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace

from etl.backends import open_backend
from etl.backends.base import IndexBackend, IndexError_, IndexResult
from etl.canon import across_documents, facts_of, wanted
from etl.clusters import with_story_clusters
from etl.containment import one_by_one_on_failure, warn_on_failure
from etl.errors import SetupError, TransientError
from etl.inputs import RunInputs
from etl.ledger import LEDGER_FAILURES, Ledger, SettledIf
from etl.ledger.known import Facts
from etl.outcomes import InputOutcome, Outcome, ProgressCallback, Rejection, RunReport, safe_text
from etl.process import Processed, ProcessOptions, batched, process_stream
from etl.record import PIPELINE_VERSION, Article, RawInput
from etl.settings import Settings, redact_url

# Failures about the run, not about one input (the index, the ledger's database): they fail
# the run, and its inputs stay pending. (A bare ``IndexError_`` is an index that answered
# nothing usable, which retrying one article at a time would not change.)
RUN_FAILURES: tuple[type[BaseException], ...] = (
    TransientError,
    SetupError,
    IndexError_,
    *LEDGER_FAILURES,
)

LOG = logging.getLogger(__name__)

Hashes = dict[str, tuple[str | None, str | None]]  # source -> (raw hash, content hash)


def ingest(
    inputs: Sequence[str],
    settings: Settings,
    *,
    reprocess: bool = False,
    dry_run: bool = False,
    feeds: Sequence[str] = (),
    sitemaps: Sequence[str] = (),
    url_lists: Sequence[str] = (),
    on_outcome: ProgressCallback | None = None,
) -> RunReport:
    """Ingest files, directories and URLs into the index ``settings.index``."""
    started = time.perf_counter()
    listed = RunInputs.listed(inputs, settings, feeds=feeds, sitemaps=sitemaps, url_lists=url_lists)
    ledger = Ledger(settings.ledger_location, claim_ttl=settings.claim_ttl)
    report = RunReport(
        run_id="dry-run",
        status="dry_run",
        index=redact_url(settings.index),
        skipped=listed.skipped,
    )
    backend: IndexBackend | None = None

    def emit(outcome: InputOutcome) -> None:
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    try:
        if not dry_run:
            report.run_id = ledger.start_run(report.index)
            backend = with_story_clusters(open_backend(settings), settings.ledger_location)
            backend.ensure_ready()
        run = Run(ledger, backend, report.run_id, emit, dry_run=dry_run)
        with backend.bulk_writes() if backend is not None else nullcontext():
            run.ingest(listed.read(ledger), settings, reprocess=reprocess)
        report.status = "dry_run" if dry_run else "ok"
        if not dry_run:
            listed.note_archives_read()
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


@dataclass(slots=True)
class Decision:
    """The outcome of each input of a processed batch, before the index has its say."""

    outcomes: dict[str, InputOutcome] = field(default_factory=dict)
    hashes: Hashes = field(default_factory=dict)
    to_index: list[Article] = field(default_factory=list)


def decide(
    batch: Sequence[Processed],
    holders: Mapping[str, tuple[str, str]],
    unchecked: Mapping[str, Rejection],
    seen_content: dict[str, tuple[str, str]],
) -> Decision:
    """Each processed input's outcome: rejected, a duplicate of the document that holds its
    content (``holders``, from the ledger, or ``seen_content`` earlier in this run), or to be
    indexed. ``unchecked``: inputs whose duplicate check failed. Adds to ``seen_content``."""
    decision = Decision()
    for p in batch:
        key = p.raw.key
        try:
            decision.hashes[key] = (_raw_hash_of(p), None)
            if p.article is None:
                reason = p.rejection or "rejected"
                decision.outcomes[key] = InputOutcome.rejected(key, reason)
                continue
            article = p.article
            decision.hashes[key] = (article.raw_hash, article.content_hash)
            if key in unchecked:
                decision.outcomes[key] = InputOutcome.rejected(key, unchecked[key])
                continue
            holder = seen_content.get(article.content_hash) or holders.get(key)
        except LEDGER_FAILURES:
            raise
        except Exception as exc:
            decision.outcomes[key] = InputOutcome.rejected(
                key, Rejection.of(exc, "cannot be settled")
            )
            continue
        if holder is not None and holder[1] != key:
            decision.outcomes[key] = InputOutcome(
                key,
                Outcome.DUPLICATE,
                reason=f"same content as {holder[1]}",
                doc_id=holder[0],
                duplicate_of=holder[0],
                title=article.title,
            )
            continue
        seen_content[article.content_hash] = (article.id, key)
        decision.to_index.append(article)
        decision.outcomes[key] = InputOutcome(
            key, Outcome.INDEXED, doc_id=article.id, title=article.title
        )
    return decision


class Run:
    """One run's batches: each settled, indexed and recorded, its outcomes emitted."""

    def __init__(
        self,
        ledger: Ledger,
        backend: IndexBackend | None,
        run_id: str,
        emit: ProgressCallback,
        *,
        dry_run: bool,
    ) -> None:
        self.ledger = ledger
        self.backend = backend
        self.run_id = run_id
        self.emit = emit
        self.dry_run = dry_run
        self.claimed_elsewhere = 0  # inputs left to the other running runs that hold them
        # content hash -> (doc id, source) of the documents indexed by this run
        self.seen_content: dict[str, tuple[str, str]] = {}
        # source -> its outcome should its worker find its bytes settled (``skip_settled``)
        self.settled_if: dict[str, SettledIf] = {}

    def ingest(
        self, raws: Iterable[RawInput], settings: Settings, *, reprocess: bool, window: int = 64
    ) -> None:
        """Skip settled inputs, process the rest in worker processes, index and record."""
        options = ProcessOptions.of(settings)
        to_process = self.skip_settled(raws, reprocess=reprocess, window=window)
        if settings.worker_service:
            from etl.worker_service import process_on_service  # runs without it never load it

            batches = process_on_service(
                settings.worker_service, to_process, options, workers=settings.workers
            )
        else:
            batches = process_stream(to_process, options, workers=settings.workers)
        for batch in batches:
            self.settle(batch)

    def skip_settled(
        self, raws: Iterable[RawInput], *, reprocess: bool, window: int
    ) -> Iterator[RawInput]:
        """The inputs that need processing; the others are recorded and emitted, a window of
        inputs at a time (one ledger lookup each). A file left for its worker to read goes
        with the bytes hash that settles it after all (``Triage.settled_if``): its worker then
        does not extract it, and ``settle`` records the outcome the ledger gives it."""
        for chunk in batched(raws, window):
            # Claimed first (not in a dry run, which records nothing): an input another
            # running run holds is left to it, without an outcome here.
            claim_for = None if self.dry_run else self.run_id
            triage = self.ledger.triage(chunk, reprocess=reprocess, claim_for=claim_for)
            if triage.elsewhere:
                self.claimed_elsewhere += len(triage.elsewhere)
                LOG.info("%d input(s) left to the run that claimed them", len(triage.elsewhere))
            for raw in triage.to_process:
                expected = triage.settled_if.get(raw.key)
                if expected is not None and raw.worker_read is not None:
                    raw.worker_read = replace(raw.worker_read, unchanged_hash=expected.raw_hash)
                    self.settled_if[raw.key] = expected
            yield from triage.to_process
            self._settle_known(triage.settled, triage.hashes)

    def settle(self, batch: Sequence[Processed]) -> None:
        """Decide each processed input's outcome, index the articles, then record the batch.
        A file its worker found settled after all is recorded as the ledger settles it."""
        self._note_file_hashes(batch)
        expected = {p.raw.key: self.settled_if.pop(p.raw.key, None) for p in batch}
        known = [e for p in batch if p.same_bytes and (e := expected[p.raw.key]) is not None]
        if known:
            hashes: Hashes = {e.outcome.source: (e.raw_hash, None) for e in known}
            self._settle_known([e.outcome for e in known], hashes)
            settled = {e.outcome.source for e in known}
            batch = [p for p in batch if p.raw.key not in settled]
            if not batch:
                return
        batch, facts = self._across_documents(batch)
        holders, unchecked = self._content_holders([p.article for p in batch if p.article])
        decision = decide(batch, holders, unchecked, self.seen_content)
        outcomes = decision.outcomes
        if self.backend is not None:
            self._note_pending([p.raw.key for p in batch], decision.to_index)
            # A TransientError (the index is gone) ends here: nothing of this batch is recorded.
            for result in self._upsert(decision.to_index):
                if not result.ok:
                    source = next(a.source for a in decision.to_index if a.id == result.doc_id)
                    reason = f"index refused it: {result.reason}"
                    outcomes[source] = InputOutcome.rejected(source, reason, result.doc_id)
        ordered = [outcomes[p.raw.key] for p in batch]
        if not self.dry_run:
            ordered = self._record(ordered, decision.hashes)
            self._note_known(ordered, facts)
        self._drop_stale(ordered)
        for outcome in ordered:
            self.emit(outcome)

    def _settle_known(self, settled: Sequence[InputOutcome], hashes: Hashes) -> None:
        """Record and emit the outcomes known without processing (``Ledger.triage``)."""
        if settled and not self.dry_run:
            # Unchanged inputs keep their state; a still-rejected one is recorded again,
            # and if it held a document, it loses it now.
            replaced = [o.source for o in settled if o.outcome is Outcome.REJECTED]
            if self.backend is not None and replaced:
                self._note_pending(replaced, ())
            settled = self._record(settled, hashes)
            if replaced:
                self._drop_stale(settled)
                self._note_known(settled, {})
        for outcome in settled:
            self.emit(outcome)

    def _note_file_hashes(self, batch: Sequence[Processed]) -> None:
        """Note the signature and bytes hash of the files workers read (``FileHashes``), so
        that the next runs need not read them while they stay as they are. Failing costs
        reading them again."""
        noted = [
            (p.raw.key, p.signature, p.raw.known_hash)
            for p in batch
            if p.signature is not None and p.raw.rejection is None and p.raw.known_hash
        ]
        if noted:
            with warn_on_failure("file hashes not noted", fatal=LEDGER_FAILURES):
                self.ledger.file_hashes.note(noted)

    def _across_documents(
        self, batch: Sequence[Processed]
    ) -> tuple[Sequence[Processed], dict[str, Facts]]:
        """The batch with titles and people as the index has them (``etl.canon``), and what
        each article adds. A failure other than of the ledger's database leaves the batch as
        it is (a warning)."""
        found = [(p.raw.key, p.article) for p in batch if p.article is not None]
        if not found:
            return batch, {}
        facts = {key: facts_of(article) for key, article in found}
        articles = [article for _key, article in found]
        with warn_on_failure(
            "titles and names across documents not applied", fatal=LEDGER_FAILURES
        ):
            segments, surnames = wanted(zip(articles, facts.values(), strict=True))
            known = self.ledger.known.lookup(segments, surnames, list(facts))
            changed = iter(across_documents(articles, known))
            batch = [
                Processed(p.raw, next(changed), p.rejection) if p.article is not None else p
                for p in batch
            ]
        return batch, facts

    def _note_known(self, recorded: Sequence[InputOutcome], facts: dict[str, Facts]) -> None:
        """What the indexed documents add to the ledger's knowledge (``Ledger.known``); the
        inputs that hold no document now lose theirs. Failing costs a warning."""
        indexed = {
            o.source: facts[o.source]
            for o in recorded
            if o.outcome is Outcome.INDEXED and o.source in facts
        }
        gone = [o.source for o in recorded if o.outcome in (Outcome.REJECTED, Outcome.DUPLICATE)]
        with warn_on_failure("titles and names of the batch not noted", fatal=LEDGER_FAILURES):
            self.ledger.known.note(indexed, gone)

    def _content_holders(
        self, articles: Sequence[Article]
    ) -> tuple[dict[str, tuple[str, str]], dict[str, Rejection]]:
        """``Ledger.content_holders``; the articles whose lookup fails alone, with why."""
        holders: dict[str, tuple[str, str]] = {}
        failed: dict[str, Rejection] = {}
        if not articles:
            return holders, failed
        for chunk, result in one_by_one_on_failure(
            self.ledger.content_holders, articles, fatal=LEDGER_FAILURES, what="duplicate check"
        ):
            if isinstance(result, Exception):
                failed.update({a.source: Rejection.of(result, "cannot be settled") for a in chunk})
            else:
                holders.update(result)
        return holders, failed

    def _note_pending(self, sources: Sequence[str], to_index: Sequence[Article]) -> None:
        # Failing costs a stale document if the run is killed, not the inputs.
        with warn_on_failure("pending documents not noted", fatal=LEDGER_FAILURES):
            self.ledger.note_pending(self.run_id, sources, to_index)

    def _drop_stale(self, recorded: Sequence[InputOutcome]) -> None:
        """Delete the documents these inputs no longer hold (``Ledger.stale_documents``). A
        failure other than of the index or the ledger's database leaves the notes in place
        (the next run meeting these inputs tries again): a stale document for a while."""
        if self.backend is None:
            return
        with warn_on_failure("stale documents not removed", fatal=RUN_FAILURES):
            stale, pending = self.ledger.stale_documents(recorded, self.run_id)
            if stale:
                self.backend.delete(stale)
            self.ledger.clear_pending(pending)

    def _record(self, outcomes: Sequence[InputOutcome], hashes: Hashes) -> list[InputOutcome]:
        """Record ``outcomes`` in one transaction; when that fails for a reason other than the
        database itself, one by one, so that an outcome that cannot be recorded costs only its
        input: it becomes ``rejected`` with why (recorded so if that is possible). Returns the
        outcomes as they now stand."""

        def record(chunk: Sequence[InputOutcome]) -> None:
            self.ledger.record(self.run_id, chunk, hashes, PIPELINE_VERSION)

        recorded: list[InputOutcome] = []
        for chunk, result in one_by_one_on_failure(
            record, outcomes, fatal=LEDGER_FAILURES, what="recording"
        ):
            if not isinstance(result, Exception):
                recorded.extend(chunk)
                continue
            (outcome,) = chunk
            reason = Rejection.of(result, "cannot be recorded")
            rejected = InputOutcome.rejected(outcome.source, reason, outcome.doc_id)
            not_recorded = f"outcome of {outcome.source} not recorded"
            with warn_on_failure(not_recorded, fatal=LEDGER_FAILURES):
                self.ledger.record(self.run_id, [rejected], {}, PIPELINE_VERSION)
            recorded.append(rejected)
        return recorded

    def _upsert(self, articles: Sequence[Article]) -> list[IndexResult]:
        """``backend.upsert``; when it fails for a reason other than the index itself (which
        fails the run), the articles are indexed one by one and a failing one is refused alone."""
        if not articles or self.backend is None:
            return []
        results: list[IndexResult] = []
        for chunk, result in one_by_one_on_failure(
            self.backend.upsert, articles, fatal=RUN_FAILURES, what="indexing"
        ):
            if isinstance(result, Exception):
                results.append(IndexResult(chunk[0].id, ok=False, reason=Rejection.of(result)))
            else:
                results.extend(result)
        return results


def _raw_hash_of(p: Processed) -> str | None:
    """The hash of the bytes read (none when they could not be read)."""
    if p.raw.data or p.raw.unread:
        return p.raw.raw_hash
    return p.article.raw_hash if p.article is not None else None
