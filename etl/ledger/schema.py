"""The ledger's tables, written once for both databases (``etl.ledger.db``), and the steps
that bring a database of any earlier version up to date (``migrate``: version N is the
first N steps; each step idempotent)."""

from __future__ import annotations

from etl.ledger.db import Database

COMPONENT = "ledger"

# Version 1: the tables as they were before versions were recorded (every step below is
# idempotent, so a ledger of that time is brought up to date by running them all).
_TABLES = """
CREATE TABLE IF NOT EXISTS ledger_runs (
    {rowid}
    run_id      TEXT PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,            -- running, ok, failed, dry_run, interrupted
    target      TEXT NOT NULL,            -- where it indexed (no credentials)
    counts      TEXT NOT NULL DEFAULT '{}',
    message     TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS ledger_outcomes (
    {rowid}
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
    {rowid}
    run_id      TEXT NOT NULL,
    source      TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    kind        TEXT NOT NULL,            -- write: about to be indexed, drop: its old document
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (source, doc_id, kind, run_id)
);
CREATE INDEX IF NOT EXISTS ledger_pending_doc ON ledger_pending(doc_id);
"""


def _run_owners(db: Database) -> None:
    """Version 2: runs know their process (JSON, see etl.run_owner)."""
    if "owner" not in db.columns("ledger_runs"):
        db.script("ALTER TABLE ledger_runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''")


# Version 3: an input being worked on is claimed by its run until its outcome is recorded, so
# that two runs given the same input never both process it. A claim of a run that is no longer
# running, or past ``expires_at`` (seconds since the epoch: a run renews its claims whenever
# it records), may be taken over.
_CLAIMS = """
CREATE TABLE IF NOT EXISTS ledger_claims (
    source     TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_claims_run ON ledger_claims(run_id);
"""

# Version 4: what the index knows across documents (``etl.ledger.known``): the end segments of
# the titles of each site's pages, and the people each document names in full. One row per
# input (``source``), replaced when the input is processed again and gone when it no longer
# holds a document, so the counts are of pages and documents, never of runs.
_KNOWN = """
CREATE TABLE IF NOT EXISTS ledger_title_segments (
    site     TEXT NOT NULL,               -- etl.titles.site_key: the host, else the site's name
    position TEXT NOT NULL,               -- start, end
    segment  TEXT NOT NULL,               -- etl.titles.segment_key: folded
    source   TEXT NOT NULL,
    PRIMARY KEY (site, segment, position, source)
) {without_rowid};
CREATE INDEX IF NOT EXISTS ledger_title_segments_source ON ledger_title_segments(source);
CREATE TABLE IF NOT EXISTS ledger_people (
    surname TEXT NOT NULL,                -- etl.people.surname_key
    name    TEXT NOT NULL,                -- a full name as a document spells it
    source  TEXT NOT NULL,
    PRIMARY KEY (surname, name, source)
) {without_rowid};
CREATE INDEX IF NOT EXISTS ledger_people_source ON ledger_people(source);
"""

# Version 5: the bytes hash of each input file with its stat signature (``etl.ledger.file_hashes``),
# so that an untouched file is known unchanged without reading it.
_FILE_HASHES = """
CREATE TABLE IF NOT EXISTS ledger_file_hashes (
    source    TEXT PRIMARY KEY,
    signature TEXT NOT NULL,              -- etl.sources.file_signature
    raw_hash  TEXT NOT NULL
) {without_rowid};
"""

STEPS = (_TABLES, _run_owners, _CLAIMS, _KNOWN, _FILE_HASHES)
