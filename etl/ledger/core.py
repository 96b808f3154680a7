"""The ledger: the recorded outcome of every input, per run, and the current state per input.

It is what makes re-runs cheap and nothing lost: an input whose bytes hash the same as last
time is ``unchanged`` before any parsing; an input is recorded only after its document reached
the index, so a batch that fails leaves its inputs pending for the next run. The documents a
run is about to write or remove are noted first (``ledger_pending``), so that a run killed at
any point leaves enough behind for the next one to settle the index (``etl.pipeline``). An
input is claimed by its run before it is processed (``ledger_claims``), so that two runs given
the same input never both process it; the claim goes when its outcome is recorded.

The SQL is written once for SQLite and PostgreSQL (``etl.ledger.db``).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl.containment import one_by_one_on_failure
from etl.ledger import schema
from etl.ledger.db import LEDGER_FAILURES, Database, migrate, open_database
from etl.ledger.file_hashes import FileHashes
from etl.ledger.known import KnownFacts
from etl.ledger.state import (
    DONE,
    PendingDoc,
    SettledIf,
    SourceState,
    Triage,
    chunks,
    now_iso,
    settled_if_read,
    settled_outcome,
)
from etl.outcomes import InputOutcome, Outcome, Rejection
from etl.run_owner import RunOwner

if TYPE_CHECKING:
    from etl.record import Article, RawInput

DEFAULT_CLAIM_TTL = 300.0


def _run_running(alias: str) -> str:
    """SQL: the run ``alias``.run_id is running (else: it ended, or was left behind)."""
    return (
        f"EXISTS (SELECT 1 FROM ledger_runs r WHERE r.run_id = {alias}.run_id "
        "AND r.status = 'running')"
    )


_ENDED_RUN = f"NOT {_run_running('p')}"
_RUN_COLUMNS = "run_id, started_at, finished_at, status, target, counts, message, owner"


def _marks(n: int) -> str:
    return ",".join("?" * n)


class Ledger:
    """The ledger in the database at ``location``: a SQLite file path or a ``postgresql://``
    URL. ``claim_ttl``: seconds a claim outlives its run's last sign of life."""

    def __init__(self, location: str | Path, *, claim_ttl: float = DEFAULT_CLAIM_TTL) -> None:
        self.claim_ttl = claim_ttl
        self._db: Database = open_database(location)
        try:
            migrate(self._db, schema.COMPONENT, schema.STEPS, now_iso())
        except BaseException:
            self._db.close()
            raise
        # What the index knows across documents: titles' end segments, people's names.
        self.known = KnownFacts(self._db)
        self.file_hashes = FileHashes(self._db)

    @property
    def location(self) -> str:
        """Where the ledger is (a URL without its password)."""
        return self._db.location

    def close(self) -> None:
        self._db.close()

    # --- runs ---------------------------------------------------------------------------------
    def start_run(self, target: str) -> str:
        self.mark_interrupted()
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self._db.execute(
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
        rows = self._db.execute(
            "SELECT run_id, owner FROM ledger_runs WHERE status='running' AND owner != ''"
        ).fetchall()
        owners = {row["run_id"]: RunOwner.parse(row["owner"]) for row in rows}
        ended = {run_id: o for run_id, o in owners.items() if o is not None and o.gone(here)}
        for run_id, owner in ended.items():
            self._db.execute(
                "UPDATE ledger_runs SET status='interrupted', finished_at=?, message=? "
                "WHERE run_id=? AND status='running'",
                (now_iso(), owner.ended_without_finishing(), run_id),
            )
        return list(ended)

    def finish_run(
        self, run_id: str, status: str, counts: dict[str, int], message: str = ""
    ) -> None:
        """The run's end; the claims it still holds (inputs it did not record) are released."""
        with self._db.transaction():
            self._db.execute(
                "UPDATE ledger_runs SET finished_at=?, status=?, counts=?, message=? "
                "WHERE run_id=?",
                (now_iso(), status, json.dumps(counts), message, run_id),
            )
            self._db.execute("DELETE FROM ledger_claims WHERE run_id = ?", (run_id,))

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        """The last runs, newest first; a run whose process is gone shows as interrupted."""
        with contextlib.suppress(*LEDGER_FAILURES):  # read-only: shown as recorded
            self.mark_interrupted()
        rows = self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM ledger_runs ORDER BY started_at DESC, rowid DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [{**dict(r), "counts": json.loads(r["counts"])} for r in rows]

    def run_outcomes(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT source, outcome, reason, doc_id, duplicate_of FROM ledger_outcomes "
            "WHERE run_id=? ORDER BY rowid",
            (run_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    # --- claims -------------------------------------------------------------------------------
    def claim(self, run_id: str, sources: Iterable[str]) -> set[str]:
        """Claim these inputs for run ``run_id`` (one statement per 200): returns those it now
        holds: unclaimed, already its own, or taken over from a run that is no longer running
        or whose claim expired. The others are being worked on by another running run."""
        keys = sorted(set(sources))  # one order for every run: no deadlock between two
        now = time.time()
        stamp, expires = now_iso(), now + self.claim_ttl
        held: set[str] = set()
        for chunk in chunks(keys, 200):
            with self._db.transaction():
                rows = self._db.execute(
                    "INSERT INTO ledger_claims(source, run_id, claimed_at, expires_at) VALUES "
                    + ",".join(["(?, ?, ?, ?)"] * len(chunk))
                    + " ON CONFLICT(source) DO UPDATE SET run_id = excluded.run_id, "
                    "claimed_at = excluded.claimed_at, expires_at = excluded.expires_at "
                    "WHERE ledger_claims.run_id = excluded.run_id "
                    "OR ledger_claims.expires_at < ? "
                    f"OR NOT {_run_running('ledger_claims')} RETURNING source",
                    [v for key in chunk for v in (key, run_id, stamp, expires)] + [now],
                ).fetchall()
            held.update(r["source"] for r in rows)
        return held

    def claims(self) -> dict[str, str]:
        """Source -> the run holding it, of every claim."""
        rows = self._db.execute("SELECT source, run_id FROM ledger_claims").fetchall()
        return {r["source"]: r["run_id"] for r in rows}

    # --- per-source state ---------------------------------------------------------------------
    def states(self, sources: Iterable[str]) -> dict[str, SourceState]:
        """The state of each of these sources the ledger knows (one query per 500)."""
        found: dict[str, SourceState] = {}
        for chunk in chunks(list(sources)):
            rows = self._db.execute(
                "SELECT source, raw_hash, content_hash, doc_id, outcome, reason, pipeline, "
                "EXISTS (SELECT 1 FROM ledger_pending p WHERE p.source = s.source "
                f"AND {_ENDED_RUN}) AS unfinished FROM ledger_sources s "
                f"WHERE source IN ({_marks(len(chunk))})",
                chunk,
            ).fetchall()
            found.update(
                {
                    r["source"]: SourceState(**{**dict(r), "unfinished": bool(r["unfinished"])})
                    for r in rows
                }
            )
        return found

    def triage(
        self, raws: Sequence[RawInput], *, reprocess: bool, claim_for: str | None = None
    ) -> Triage:
        """Sort a window of inputs with one lookup: those to process, and those whose outcome
        is known without processing (``settled_outcome``). When the lookup fails, each input is
        looked up alone, so that only the inputs that cannot be looked up are rejected. A file
        left for its worker to read is to process, with the outcome it gets if its bytes are
        those recorded (``Triage.settled_if``).

        ``claim_for``: a run id; the window is claimed for it first (``claim``, one statement)
        and the inputs another running run holds are left out (``Triage.elsewhere``)."""
        triage = Triage()
        if claim_for is not None:
            held = self.claim(claim_for, (raw.key for raw in raws))
            triage.elsewhere = [raw.key for raw in raws if raw.key not in held]
            raws = [raw for raw in raws if raw.key in held]
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
        for raw in raws:
            state = states.get(raw.key)
            settled: InputOutcome | None
            expected: SettledIf | None = None
            try:
                if raw.key in failed:
                    settled = InputOutcome.rejected(raw.key, failed[raw.key])
                else:
                    settled = settled_outcome(raw, state, reprocess=reprocess)
                    if settled is None:
                        expected = settled_if_read(raw, state, reprocess=reprocess)
            except LEDGER_FAILURES:
                raise
            except Exception as exc:
                settled = InputOutcome.rejected(raw.key, Rejection.of(exc, "cannot be checked"))
            if settled is None:
                triage.to_process.append(raw)
                if expected is not None:
                    triage.settled_if[raw.key] = expected
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
        rows = self._db.execute(
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
        rows = [(run_id, source, doc_id, kind, stamp) for source, doc_id, kind in sorted(entries)]
        if not rows:
            return
        with self._db.transaction():
            self._db.executemany(
                "INSERT INTO ledger_pending(run_id, source, doc_id, kind, recorded_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
        for chunk in chunks([o.source for o in recorded]):
            rows = self._db.execute(
                "SELECT rowid AS entry, run_id, source, doc_id, kind, "
                "EXISTS (SELECT 1 FROM ledger_sources s WHERE s.doc_id = p.doc_id "
                "AND s.outcome = ?) OR EXISTS (SELECT 1 FROM ledger_pending w "
                "WHERE w.doc_id = p.doc_id AND w.kind = 'write' AND w.run_id != ? "
                f"AND {_run_running('w')}) AS in_use FROM ledger_pending p "
                f"WHERE source IN ({_marks(len(chunk))}) "
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
        with self._db.transaction():
            self._db.executemany("DELETE FROM ledger_pending WHERE rowid = ?", rows)

    def content_holders(self, articles: Sequence[Article]) -> dict[str, tuple[str, str]]:
        """Source -> (doc id, source) of the indexed document, from another input, that has the
        same content as the source's article: the articles that are duplicates (one query)."""
        by_hash: dict[str, list[tuple[str, str]]] = {}
        for chunk in chunks(list({a.content_hash for a in articles})):
            rows = self._db.execute(
                "SELECT content_hash, doc_id, source FROM ledger_sources "
                f"WHERE content_hash IN ({_marks(len(chunk))}) AND outcome = ? "
                "ORDER BY updated_at, source",
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

        An ``unchanged`` outcome keeps the source's state as it was. The run's claims on these
        inputs are released, and its other claims renewed (the run is alive)."""
        stamp = now_iso()
        with self._db.transaction():
            self._db.executemany(
                "INSERT INTO ledger_outcomes(run_id, source, outcome, reason, doc_id, "
                "duplicate_of, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, o.source, o.outcome.value, o.reason, o.doc_id, o.duplicate_of, stamp)
                    for o in outcomes
                ],
            )
            self._db.executemany(
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
                    for o in sorted(outcomes, key=lambda o: o.source)
                    if o.outcome is not Outcome.UNCHANGED
                ],
            )
            self._db.executemany(
                "DELETE FROM ledger_claims WHERE source = ? AND run_id = ?",
                [(source, run_id) for source in sorted({o.source for o in outcomes})],
            )
            self._db.execute(
                "UPDATE ledger_claims SET expires_at = ? WHERE run_id = ?",
                (time.time() + self.claim_ttl, run_id),
            )

    def counts_by_outcome(self) -> dict[str, int]:
        rows = self._db.execute(
            "SELECT outcome, COUNT(*) AS n FROM ledger_sources GROUP BY outcome"
        ).fetchall()
        return {r["outcome"]: int(r["n"]) for r in rows}

    def rejections(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT source, reason, updated_at FROM ledger_sources WHERE outcome=? "
            "ORDER BY updated_at DESC LIMIT ?",
            (Outcome.REJECTED.value, limit),
        ).fetchall()
        return [dict(r) for r in rows]
