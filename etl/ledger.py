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
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.record import InputOutcome, Outcome
from etl.sqlite_util import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_runs (
    run_id      TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,            -- running, ok, failed, dry_run, interrupted
    target      TEXT NOT NULL,            -- where it indexed (no credentials)
    counts      TEXT NOT NULL DEFAULT '{}',
    message     TEXT NOT NULL DEFAULT '',
    owner       TEXT NOT NULL DEFAULT ''  -- JSON: the process running it (see _Process)
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

# Pending entries (alias p) of a run that is running, or of one that is not (any more): left.
_RUN_RUNNING = (
    "EXISTS (SELECT 1 FROM ledger_runs r WHERE r.run_id = p.run_id AND r.status = 'running')"
)
_ENDED_RUN = f"NOT {_RUN_RUNNING}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class SourceState:
    source: str
    raw_hash: str | None
    content_hash: str | None
    doc_id: str | None
    outcome: str
    reason: str
    pipeline: str


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


@dataclass(frozen=True, slots=True)
class _Process:
    """Who runs a run: enough to tell later, from the same machine, whether it still runs.

    ``pid`` alone is not enough: pids are reused, and after a reboot or in another container
    (another pid namespace) the same number is another process. So the process's start time
    (``/proc/<pid>/stat``), the boot id and the pid namespace are kept too."""

    host: str
    boot: str
    pidns: str
    pid: int
    start: str

    @classmethod
    def current(cls) -> _Process:
        return cls(
            socket.gethostname(),
            _read("/proc/sys/kernel/random/boot_id"),
            _pid_namespace(),
            os.getpid(),
            _start_time(os.getpid()) or "",
        )

    @classmethod
    def parse(cls, text: str) -> _Process | None:
        try:
            data = json.loads(text)
            return cls(
                str(data["host"]),
                str(data["boot"]),
                str(data["pidns"]),
                int(data["pid"]),
                str(data["start"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    def gone(self, here: _Process) -> bool | None:
        """True when this process has certainly ended, seen from ``here``; None when it cannot
        be told (another machine or container)."""
        if self.host != here.host:
            return None
        if self.boot and here.boot and self.boot != here.boot:
            return True  # the machine restarted since
        if self.pidns != here.pidns:
            return None
        if self.start and here.start:
            return _start_time(self.pid) != self.start  # gone, a zombie, or another process
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read().strip()
    except (OSError, ValueError):
        return ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot); None when it is not running
    (a zombie, killed but not yet reaped, counts as not running)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return None
    return fields[19]


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
            (run_id, now_iso(), target, _Process.current().dumps()),
        )
        return run_id

    def mark_interrupted(self) -> list[str]:
        """Runs still ``running`` whose process is gone (killed: ``kill -9``, the OOM killer,
        a reboot) become ``interrupted``; returns their ids. Only runs started on this
        machine can be judged; the others are left as they are."""
        here = _Process.current()
        rows = self._conn.execute(
            "SELECT run_id, owner FROM ledger_runs WHERE status='running' AND owner != ''"
        ).fetchall()
        ended = []
        for row in rows:
            owner = _Process.parse(row["owner"])
            if owner is not None and owner.gone(here):
                ended.append((row["run_id"], owner))
        for run_id, owner in ended:
            self._conn.execute(
                "UPDATE ledger_runs SET status='interrupted', finished_at=?, message=? "
                "WHERE run_id=? AND status='running'",
                (
                    now_iso(),
                    f"process {owner.pid} on {owner.host} ended without finishing the run "
                    "(killed?); its inputs that were not recorded are still pending",
                    run_id,
                ),
            )
        return [run_id for run_id, _ in ended]

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
        keys = list(sources)
        found: dict[str, SourceState] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = self._conn.execute(
                "SELECT source, raw_hash, content_hash, doc_id, outcome, reason, pipeline "
                f"FROM ledger_sources WHERE source IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.update({r["source"]: SourceState(**dict(r)) for r in rows})
        return found

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
    def add_pending(self, run_id: str, entries: Iterable[tuple[str, str, str]]) -> None:
        """Before the index is touched: (source, doc id, ``write`` or ``drop``) entries."""
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

    def unfinished(self, sources: Iterable[str]) -> set[str]:
        """The sources for which a run that is no longer running (killed, failed) left pending
        documents: whatever their bytes, they must be processed again."""
        keys = list(sources)
        found: set[str] = set()
        for chunk in _chunks(keys):
            rows = self._conn.execute(
                "SELECT DISTINCT source FROM ledger_pending p "
                f"WHERE source IN ({','.join('?' * len(chunk))}) AND {_ENDED_RUN}",
                chunk,
            ).fetchall()
            found.update(r["source"] for r in rows)
        return found

    def pending_for(self, sources: Iterable[str], run_id: str) -> list[PendingDoc]:
        """The pending documents of these sources left by run ``run_id`` or by runs that are no
        longer running (those of other running runs are theirs to settle)."""
        keys = list(sources)
        found: list[PendingDoc] = []
        for chunk in _chunks(keys):
            rows = self._conn.execute(
                "SELECT rowid AS entry, run_id, source, doc_id, kind FROM ledger_pending p "
                f"WHERE source IN ({','.join('?' * len(chunk))}) AND (run_id = ? OR {_ENDED_RUN})",
                [*chunk, run_id],
            ).fetchall()
            found.extend(PendingDoc(**dict(r)) for r in rows)
        return found

    def docs_in_use(self, doc_ids: Iterable[str], run_id: str) -> set[str]:
        """Of ``doc_ids``, those an input holds (recorded as indexed with it) or that another
        running run is about to write: never to be deleted as stale."""
        keys = list(doc_ids)
        found: set[str] = set()
        for chunk in _chunks(keys):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT doc_id FROM ledger_sources WHERE doc_id IN ({marks}) AND outcome = ? "
                "UNION SELECT doc_id FROM ledger_pending p "
                f"WHERE doc_id IN ({marks}) AND kind = 'write' AND run_id != ? AND {_RUN_RUNNING}",
                [*chunk, Outcome.INDEXED.value, *chunk, run_id],
            ).fetchall()
            found.update(r["doc_id"] for r in rows)
        return found

    def clear_pending(self, entries: Iterable[PendingDoc]) -> None:
        rows = [(e.entry,) for e in entries]
        if not rows:
            return
        with self._transaction():
            self._conn.executemany("DELETE FROM ledger_pending WHERE rowid = ?", rows)

    def holder_of_content(self, content_hash: str, other_than: str) -> tuple[str, str] | None:
        """(doc id, source) of an indexed document with this content from another input."""
        row = self._conn.execute(
            "SELECT doc_id, source FROM ledger_sources WHERE content_hash=? AND outcome=? "
            "AND source != ? ORDER BY updated_at LIMIT 1",
            (content_hash, Outcome.INDEXED.value, other_than),
        ).fetchone()
        return (row["doc_id"], row["source"]) if row else None

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

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
