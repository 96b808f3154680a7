"""The ledger: the recorded outcome of every input, per run, and the current state per input.

It is what makes re-runs cheap and nothing lost: an input whose bytes hash the same as last
time is ``unchanged`` before any parsing; an input is recorded only after its document reached
the index, so a batch that fails leaves its inputs pending for the next run. The documents a
run is about to write or remove are noted first (``ledger_pending``), so that a run killed at
any point leaves enough behind for the next one to settle the index (``etl.pipeline``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.containment import one_by_one_on_failure
from etl.outcomes import InputOutcome, Outcome, Rejection
from etl.record import PIPELINE_VERSION
from etl.run_owner import RunOwner
from etl.sqlite_util import connect

if TYPE_CHECKING:
    from etl.record import Article
    from etl.sources import RawInput

# Failures of the ledger's database itself (locked, disk full, I/O): about the run, not about
# one input, so they fail the run (and its inputs stay pending) instead of rejecting inputs.
LEDGER_FAILURES: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
# Outcomes whose input needs no work while its bytes stay the same.
DONE = frozenset({Outcome.INDEXED.value, Outcome.DUPLICATE.value})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_runs (
    run_id      TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,            -- running, ok, failed, dry_run, interrupted
    target      TEXT NOT NULL,            -- where it indexed (no credentials)
    counts      TEXT NOT NULL DEFAULT '{}',
    message     TEXT NOT NULL DEFAULT '',
    owner       TEXT NOT NULL DEFAULT ''  -- JSON: the process running it (see etl.run_owner)
);
CREATE TABLE IF NOT EXISTS ledger_outcomes (
    run_id       TEXT NOT NULL REFERENCES ledger_runs(run_id),
    source       TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    doc_id       TEXT,
    duplicate_of TEXT,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_outcomes_run ON ledger_outcomes(run_id);
CREATE TABLE IF NOT EXISTS ledger_sources (
    source       TEXT PRIMARY KEY,
    raw_hash     TEXT,
    content_hash TEXT,
    doc_id       TEXT,
    outcome      TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    pipeline     TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_sources_content ON ledger_sources(content_hash);
CREATE INDEX IF NOT EXISTS ledger_sources_doc ON ledger_sources(doc_id);
-- Documents a run is about to write to the index or to remove from it, written before it
-- touches the index and cleared once the outcome is recorded and stale documents are gone.
-- What a run that ended without finishing (killed, failed) left here is settled by the next
-- run that meets the source (see etl.pipeline): the index and the ledger converge.
CREATE TABLE IF NOT EXISTS ledger_pending (
    run_id      TEXT NOT NULL,
    source      TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,            -- write: about to be indexed; drop: its old document
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (source, doc_id, kind, run_id)
);
CREATE INDEX IF NOT EXISTS ledger_pending_doc ON ledger_pending(doc_id);
"""


def _run_running(alias: str) -> str:
    """SQL: the pending entry ``alias`` is of a run that is running (else: left behind)."""
    return (
        f"EXISTS (SELECT 1 FROM ledger_runs r WHERE r.run_id = {alias}.run_id "
        "AND r.status = 'running')"
    )


_ENDED_RUN = f"NOT {_run_running('p')}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the ledger holds of one input: its last outcome, hashes and document."""

    source: str
    raw_hash: str | None
    content_hash: str | None
    doc_id: str | None
    outcome: str
    reason: str
    pipeline: str
    # A run that is no longer running (killed, failed) left documents pending for it: whatever
    # its bytes, it is processed again, so that the index and the ledger converge.
    unfinished: bool = False


@dataclass(slots=True)
class Triage:
    """A window of inputs sorted by the ledger: those to process, and those settled without
    processing (with the bytes hash to record them with)."""

    to_process: list[RawInput] = field(default_factory=list)
    settled: list[InputOutcome] = field(default_factory=list)
    hashes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)


def settled_outcome(
    raw: RawInput, state: SourceState | None, *, reprocess: bool
) -> InputOutcome | None:
    """The outcome of an input that needs no parsing: unreadable (rejected with the reason);
    the same bytes as last time and indexed or a duplicate then (``unchanged``); the same bytes
    that this pipeline version rejected (``rejected`` again, same reason). None: process it."""
    if raw.rejection:
        return InputOutcome.rejected(raw.key, raw.rejection)
    if reprocess or state is None or state.unfinished:
        return None
    same_bytes = raw.not_modified or state.raw_hash == raw.raw_hash
    if not same_bytes:
        return None
    if state.outcome in DONE:
        return InputOutcome(raw.key, Outcome.UNCHANGED, doc_id=state.doc_id)
    if state.outcome == Outcome.REJECTED.value and state.pipeline == PIPELINE_VERSION:
        return InputOutcome.rejected(raw.key, state.reason)
    return None


@dataclass(frozen=True, slots=True)
class PendingDoc:
    """A document a run was about to write (``write``) or remove (``drop``) for a source."""

    entry: int  # the row, to clear exactly this entry
    run_id: str
    source: str
    doc_id: str
    kind: str


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._conn.executescript(_SCHEMA)
        columns = {r["name"] for r in self._conn.execute("PRAGMA table_info(ledger_runs)")}
        if "owner" not in columns:  # a ledger from before runs knew their process
            self._conn.execute("ALTER TABLE ledger_runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''")

    def close(self) -> None:
        self._conn.close()

    # --- runs ---------------------------------------------------------------------------------
    def start_run(self, target: str) -> str:
        self.mark_interrupted()
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self._conn.execute(
            "INSERT INTO ledger_runs(run_id, started_at, status, target, owner) "
            "VALUES (?, ?, 'running', ?, ?)",
            (run_id, now_iso(), target, RunOwner.current().dumps()),
        )
        return run_id

    def mark_interrupted(self) -> list[str]:
        """Runs still ``running`` whose process is gone (killed: ``kill -9``, the OOM killer,
        a reboot) become ``interrupted``; returns their ids. Only runs started on this
        machine can be judged; the others are left as they are."""
        here = RunOwner.current()
        rows = self._conn.execute(
            "SELECT run_id, owner FROM ledger_runs WHERE status='running' AND owner != ''"
        ).fetchall()
        owners = {row["run_id"]: RunOwner.parse(row["owner"]) for row in rows}
        ended = {run_id: o for run_id, o in owners.items() if o is not None and o.gone(here)}
        for run_id, owner in ended.items():
            self._conn.execute(
                "UPDATE ledger_runs SET status='interrupted', finished_at=?, message=? "
                "WHERE run_id=? AND status='running'",
                (now_iso(), owner.ended_without_finishing(), run_id),
            )
        return list(ended)

    def finish_run(
        self, run_id: str, status: str, counts: dict[str, int], message: str = ""
    ) -> None:
        self._conn.execute(
            "UPDATE ledger_runs SET finished_at=?, status=?, counts=?, message=? WHERE run_id=?",
            (now_iso(), status, json.dumps(counts), message, run_id),
        )

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        """The last runs, newest first; a run whose process is gone shows as interrupted."""
        with contextlib.suppress(sqlite3.OperationalError):  # read-only: shown as recorded
            self.mark_interrupted()
        rows = self._conn.execute(
            "SELECT * FROM ledger_runs ORDER BY started_at DESC, rowid DESC LIMIT ?", (limit,)
        ).fetchall()
        return [{**dict(r), "counts": json.loads(r["counts"])} for r in rows]

    def run_outcomes(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT source, outcome, reason, doc_id, duplicate_of FROM ledger_outcomes "
            "WHERE run_id=? ORDER BY rowid",
            (run_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    # --- per-source state ---------------------------------------------------------------------
    def states(self, sources: Iterable[str]) -> dict[str, SourceState]:
        """The state of each of these sources the ledger knows (one query per 500)."""
        found: dict[str, SourceState] = {}
        for chunk in _chunks(list(sources)):
            rows = self._conn.execute(
                "SELECT source, raw_hash, content_hash, doc_id, outcome, reason, pipeline, "
                "EXISTS (SELECT 1 FROM ledger_pending p WHERE p.source = s.source "
                f"AND {_ENDED_RUN}) AS unfinished FROM ledger_sources s "
                f"WHERE source IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.update(
                {r["source"]: SourceState(**{**dict(r), "unfinished": bool(r[7])}) for r in rows}
            )
        return found

    def triage(self, raws: Sequence[RawInput], *, reprocess: bool) -> Triage:
        """Sort a window of inputs with one lookup: those to process, and those whose outcome
        is known without processing (``settled_outcome``). When the lookup fails, each input is
        looked up alone, so that only the inputs that cannot be looked up are rejected."""
        states: dict[str, SourceState] = {}
        failed: dict[str, Rejection] = {}
        keys = [raw.key for raw in raws]
        for chunk, result in one_by_one_on_failure(
            self.states, keys, fatal=LEDGER_FAILURES, what="ledger lookup"
        ):
            if isinstance(result, Exception):
                failed.update({key: Rejection.of(result, "ledger lookup failed") for key in chunk})
            else:
                states.update(result)
        triage = Triage()
        for raw in raws:
            state = states.get(raw.key)
            settled: InputOutcome | None
            try:
                if raw.key in failed:
                    settled = InputOutcome.rejected(raw.key, failed[raw.key])
                else:
                    settled = settled_outcome(raw, state, reprocess=reprocess)
            except LEDGER_FAILURES:
                raise
            except Exception as exc:
                settled = InputOutcome.rejected(raw.key, Rejection.of(exc, "cannot be checked"))
            if settled is None:
                triage.to_process.append(raw)
            else:
                triage.settled.append(settled)
                triage.hashes[raw.key] = (state.raw_hash if state is not None else None, None)
        return triage

    def conditional_hashes(self, urls: Iterable[str]) -> dict[str, str]:
        """URL -> bytes hash of the pages whose answer "not modified" (HTTP 304) may be taken
        as unchanged: indexed or a duplicate with those bytes, and not left unfinished."""
        return {
            key: state.raw_hash
            for key, state in self.states(urls).items()
            if state.raw_hash and state.outcome in DONE and not state.unfinished
        }

    def settled_hashes(self, pipeline: str) -> dict[str, str]:
        """Source -> bytes hash of every input that needs no work while its bytes stay the
        same: indexed or duplicate, or rejected by this same pipeline version, and not left
        unfinished by a run that ended (see ``unfinished``)."""
        rows = self._conn.execute(
            "SELECT source, raw_hash FROM ledger_sources s WHERE raw_hash IS NOT NULL "
            "AND (outcome IN (?, ?) OR (outcome = ? AND pipeline = ?)) "
            "AND NOT EXISTS (SELECT 1 FROM ledger_pending p WHERE p.source = s.source "
            f"AND {_ENDED_RUN})",
            (Outcome.INDEXED.value, Outcome.DUPLICATE.value, Outcome.REJECTED.value, pipeline),
        ).fetchall()
        return {r["source"]: r["raw_hash"] for r in rows}

    # --- documents on their way to or from the index -------------------------------------------
    def note_pending(
        self, run_id: str, sources: Sequence[str], to_index: Sequence[Article]
    ) -> None:
        """Before the index is touched, note which documents of these inputs may change there:
        each article about to be written, and the document each input held until now. A run
        killed at any point after this leaves them noted, and the next run meeting an input
        settles them (``stale_documents``): the index never keeps a document the ledger does
        not name."""
        entries = [(a.source, a.id, "write") for a in to_index]
        entries += [
            (source, state.doc_id, "drop")
            for source, state in self.states(sources).items()
            if state.doc_id and state.outcome == Outcome.INDEXED.value
        ]
        stamp = now_iso()
        rows = [(run_id, source, doc_id, kind, stamp) for source, doc_id, kind in entries]
        if not rows:
            return
        with self._transaction():
            self._conn.executemany(
                "INSERT OR IGNORE INTO ledger_pending(run_id, source, doc_id, kind, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    def stale_documents(
        self, recorded: Sequence[InputOutcome], run_id: str
    ) -> tuple[list[str], list[PendingDoc]]:
        """Once outcomes are recorded: the documents to remove from the index, and the pending
        entries (of run ``run_id`` or of runs no longer running) to clear once they are gone.

        Stale: a pending document its input does not hold now, unless another input holds it
        or another running run is writing it. So a changed input whose id changed (the id
        follows the content without a canonical URL) loses its old document; an input now
        rejected or a duplicate, its own."""
        held = {o.source: o.doc_id for o in recorded if o.outcome is Outcome.INDEXED}
        pending: list[PendingDoc] = []
        stale: set[str] = set()
        for chunk in _chunks([o.source for o in recorded]):
            rows = self._conn.execute(
                "SELECT rowid AS entry, run_id, source, doc_id, kind, "
                "EXISTS (SELECT 1 FROM ledger_sources s WHERE s.doc_id = p.doc_id "
                "AND s.outcome = ?) OR EXISTS (SELECT 1 FROM ledger_pending w "
                "WHERE w.doc_id = p.doc_id AND w.kind = 'write' AND w.run_id != ? "
                f"AND {_run_running('w')}) AS in_use FROM ledger_pending p "
                f"WHERE source IN ({','.join('?' * len(chunk))}) "
                f"AND (run_id = ? OR {_ENDED_RUN})",
                [Outcome.INDEXED.value, run_id, *chunk, run_id],
            ).fetchall()
            for r in rows:
                entry = PendingDoc(r["entry"], r["run_id"], r["source"], r["doc_id"], r["kind"])
                pending.append(entry)
                if entry.doc_id != held.get(entry.source) and not r["in_use"]:
                    stale.add(entry.doc_id)
        return sorted(stale), pending

    def clear_pending(self, entries: Iterable[PendingDoc]) -> None:
        rows = [(e.entry,) for e in entries]
        if not rows:
            return
        with self._transaction():
            self._conn.executemany("DELETE FROM ledger_pending WHERE rowid = ?", rows)

    def content_holders(self, articles: Sequence[Article]) -> dict[str, tuple[str, str]]:
        """Source -> (doc id, source) of the indexed document, from another input, that has the
        same content as the source's article: the articles that are duplicates (one query)."""
        by_hash: dict[str, list[tuple[str, str]]] = {}
        for chunk in _chunks(list({a.content_hash for a in articles})):
            rows = self._conn.execute(
                "SELECT content_hash, doc_id, source FROM ledger_sources "
                f"WHERE content_hash IN ({','.join('?' * len(chunk))}) AND outcome = ? "
                "ORDER BY updated_at",
                [*chunk, Outcome.INDEXED.value],
            ).fetchall()
            for r in rows:
                by_hash.setdefault(r["content_hash"], []).append((r["doc_id"], r["source"]))
        holders: dict[str, tuple[str, str]] = {}
        for article in articles:
            others = [h for h in by_hash.get(article.content_hash, []) if h[1] != article.source]
            if others:
                holders[article.source] = others[0]
        return holders

    def record(
        self,
        run_id: str,
        outcomes: Sequence[InputOutcome],
        hashes: Mapping[str, tuple[str | None, str | None]],
        pipeline: str,
    ) -> None:
        """Record outcomes in one transaction. ``hashes``: source -> (raw hash, content hash).

        An ``unchanged`` outcome keeps the source's state as it was."""
        stamp = now_iso()
        with self._transaction():
            self._conn.executemany(
                "INSERT INTO ledger_outcomes(run_id, source, outcome, reason, doc_id, "
                "duplicate_of, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, o.source, o.outcome.value, o.reason, o.doc_id, o.duplicate_of, stamp)
                    for o in outcomes
                ],
            )
            self._conn.executemany(
                "INSERT INTO ledger_sources(source, raw_hash, content_hash, doc_id, outcome, "
                "reason, pipeline, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(source) DO UPDATE SET raw_hash=excluded.raw_hash, "
                "content_hash=excluded.content_hash, doc_id=excluded.doc_id, "
                "outcome=excluded.outcome, reason=excluded.reason, pipeline=excluded.pipeline, "
                "updated_at=excluded.updated_at",
                [
                    (
                        o.source,
                        *hashes.get(o.source, (None, None)),
                        o.doc_id,
                        o.outcome.value,
                        o.reason,
                        pipeline,
                        stamp,
                    )
                    for o in outcomes
                    if o.outcome is not Outcome.UNCHANGED
                ],
            )

    def counts_by_outcome(self) -> dict[str, int]:
        rows = self._conn.execute(
            "SELECT outcome, COUNT(*) AS n FROM ledger_sources GROUP BY outcome"
        ).fetchall()
        return {r["outcome"]: r["n"] for r in rows}

    def rejections(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT source, reason, updated_at FROM ledger_sources WHERE outcome=? "
            "ORDER BY updated_at DESC LIMIT ?",
            (Outcome.REJECTED.value, limit),
        ).fetchall()
        return [dict(r) for r in rows]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
