"""The ledger's contract, the same over SQLite and PostgreSQL (fixture ``ledger``): outcomes
recorded and read back, what is settled without processing, duplicates, stale documents,
pending documents after a crash, the schema created and migrated, and claims."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

from etl.ledger import Ledger, open_database
from etl.ledger.db import migrate
from etl.ledger.schema import COMPONENT, STEPS
from etl.outcomes import InputOutcome, Outcome
from etl.record import PIPELINE_VERSION, Article, RawInput
from tests.records import full_article


def article(source: str, doc_id: str, content: str) -> Article:
    return replace(full_article(), source=source, id=doc_id, content_hash=content)


def indexed(source: str, doc_id: str) -> InputOutcome:
    return InputOutcome(source, Outcome.INDEXED, doc_id=doc_id)


def test_outcomes_are_recorded_and_read_back(ledger: Ledger) -> None:
    run = ledger.start_run("data/articles.db")
    outcomes = [
        indexed("/in/a.html", "d-a"),
        InputOutcome.rejected("/in/b.txt", "empty file"),
        InputOutcome(
            "/in/c.html",
            Outcome.DUPLICATE,
            reason="same content as /in/a.html",
            doc_id="d-a",
            duplicate_of="d-a",
        ),
    ]
    hashes = {"/in/a.html": ("ra", "ca"), "/in/b.txt": ("rb", None), "/in/c.html": ("rc", "ca")}
    ledger.record(run, outcomes, hashes, PIPELINE_VERSION)
    ledger.finish_run(run, "ok", {"indexed": 1, "rejected": 1, "duplicate": 1})

    assert [(o["source"], o["outcome"]) for o in ledger.run_outcomes(run)] == [
        ("/in/a.html", "indexed"),
        ("/in/b.txt", "rejected"),
        ("/in/c.html", "duplicate"),
    ]
    (shown,) = ledger.runs()
    assert shown["run_id"] == run and shown["status"] == "ok"
    assert shown["counts"] == {"indexed": 1, "rejected": 1, "duplicate": 1}
    assert ledger.counts_by_outcome() == {"indexed": 1, "rejected": 1, "duplicate": 1}
    assert [r["reason"] for r in ledger.rejections()] == ["empty file"]
    states = ledger.states(["/in/a.html", "/in/c.html", "/in/unknown"])
    assert states["/in/a.html"].raw_hash == "ra" and states["/in/a.html"].doc_id == "d-a"
    assert states["/in/c.html"].outcome == "duplicate"
    assert "/in/unknown" not in states


def test_unchanged_inputs_are_settled_and_changed_ones_processed(ledger: Ledger) -> None:
    first = ledger.start_run("t")
    same, changed = RawInput("/in/same.txt", "file", b"same"), RawInput("/in/c.txt", "file", b"v1")
    bad = RawInput("/in/bad.txt", "file", b"\0")
    ledger.record(
        first,
        [
            indexed(same.key, "d1"),
            indexed(changed.key, "d2"),
            InputOutcome.rejected(bad.key, "binary"),
        ],
        {
            same.key: (same.raw_hash, "c1"),
            changed.key: (changed.raw_hash, "c2"),
            bad.key: (bad.raw_hash, None),
        },
        PIPELINE_VERSION,
    )
    ledger.finish_run(first, "ok", {})
    second = ledger.start_run("t")
    window = [same, replace(changed, data=b"v2"), bad, RawInput("/in/new.txt", "file", b"new")]
    triage = ledger.triage(window, reprocess=False, claim_for=second)
    assert [(o.source, o.outcome, o.reason) for o in triage.settled] == [
        (same.key, Outcome.UNCHANGED, ""),
        (bad.key, Outcome.REJECTED, "binary"),
    ]
    assert [r.key for r in triage.to_process] == [changed.key, "/in/new.txt"]
    assert ledger.settled_hashes(PIPELINE_VERSION) == {
        same.key: same.raw_hash,
        changed.key: changed.raw_hash,
        bad.key: bad.raw_hash,
    }
    again = ledger.triage(window, reprocess=True, claim_for=second)
    assert [o.source for o in again.settled] == [] and len(again.to_process) == 4


def test_duplicates_are_found_by_content_hash(ledger: Ledger) -> None:
    run = ledger.start_run("t")
    ledger.record(run, [indexed("/in/first.html", "d1")], {"/in/first.html": ("r1", "C")}, "p")
    holders = ledger.content_holders(
        [
            article("/in/copy.html", "d2", "C"),
            article("/in/first.html", "d1", "C"),
            article("/in/other.html", "d3", "D"),
        ]
    )
    assert holders == {"/in/copy.html": ("d1", "/in/first.html")}


def test_a_changed_input_leaves_its_old_document_stale(ledger: Ledger) -> None:
    run = ledger.start_run("t")
    ledger.record(run, [indexed("/in/a.txt", "old")], {"/in/a.txt": ("r1", "c1")}, "p")
    ledger.finish_run(run, "ok", {})
    run = ledger.start_run("t")
    ledger.note_pending(run, ["/in/a.txt"], [article("/in/a.txt", "new", "c2")])
    ledger.record(run, [indexed("/in/a.txt", "new")], {"/in/a.txt": ("r2", "c2")}, "p")
    stale, pending = ledger.stale_documents([indexed("/in/a.txt", "new")], run)
    assert stale == ["old"]
    assert sorted((p.doc_id, p.kind) for p in pending) == [("new", "write"), ("old", "drop")]
    ledger.clear_pending(pending)
    assert ledger.stale_documents([indexed("/in/a.txt", "new")], run) == ([], [])


def test_documents_left_pending_by_a_run_that_ended_are_processed_again(ledger: Ledger) -> None:
    raw = RawInput("/in/a.txt", "file", b"same bytes")
    run = ledger.start_run("t")
    ledger.record(run, [indexed(raw.key, "d1")], {raw.key: (raw.raw_hash, "c1")}, "p")
    ledger.finish_run(run, "ok", {})
    crashed = ledger.start_run("t")  # noted, then killed before recording
    ledger.note_pending(crashed, [raw.key], [article(raw.key, "d1", "c1")])
    assert not ledger.states([raw.key])[raw.key].unfinished  # its run may still be running
    ledger.finish_run(crashed, "interrupted", {})
    assert ledger.states([raw.key])[raw.key].unfinished
    assert ledger.conditional_hashes([raw.key]) == {}
    assert raw.key not in ledger.settled_hashes("p")
    nxt = ledger.start_run("t")
    triage = ledger.triage([raw], reprocess=False, claim_for=nxt)
    assert [r.key for r in triage.to_process] == [raw.key]


def test_the_schema_is_created_and_an_old_one_migrated(ledger_location: str) -> None:
    db = open_database(ledger_location)
    try:  # a ledger of version 1: runs without owners, no claims
        migrate(db, COMPONENT, STEPS[:1], "2024-01-01T00:00:00+00:00")
        db.execute(
            "INSERT INTO ledger_runs(run_id, started_at, status, target) "
            "VALUES ('old', '2024-01-01', 'ok', 't')"
        )
        assert "owner" not in db.columns("ledger_runs") and not db.columns("ledger_claims")
    finally:
        db.close()
    ledger = Ledger(ledger_location)
    try:
        assert [r["run_id"] for r in ledger.runs()] == ["old"]
        assert ledger.runs()[0]["owner"] == ""
        run = ledger.start_run("t")
        assert ledger.claim(run, ["x"]) == {"x"}
    finally:
        ledger.close()
    db = open_database(ledger_location)
    try:
        row = db.execute("SELECT version FROM ledger_schema WHERE component = 'ledger'").fetchone()
        assert row is not None and row["version"] == len(STEPS)
        assert "owner" in db.columns("ledger_runs")
    finally:
        db.close()
    Ledger(ledger_location).close()  # up to date: opens without migrating


def test_a_sqlite_ledger_from_before_schema_versions_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE ledger_runs (run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, "
        "finished_at TEXT, status TEXT NOT NULL, target TEXT NOT NULL, "
        "counts TEXT NOT NULL DEFAULT '{}', message TEXT NOT NULL DEFAULT '');"
        "INSERT INTO ledger_runs(run_id, started_at, status, target) "
        "VALUES ('old', '2024-01-01', 'ok', 't');"
    )
    conn.close()
    ledger = Ledger(path)
    try:
        assert [(r["run_id"], r["owner"]) for r in ledger.runs()] == [("old", "")]
        assert ledger.claim(ledger.start_run("t"), ["x"]) == {"x"}
    finally:
        ledger.close()


# --- claims -----------------------------------------------------------------------------------


def test_two_ledgers_on_one_database_claim_disjoint_sets(ledger_location: str) -> None:
    one, two = Ledger(ledger_location), Ledger(ledger_location)
    try:
        run1, run2 = one.start_run("t"), two.start_run("t")
        assert one.claim(run1, ["a", "b", "c"]) == {"a", "b", "c"}
        assert two.claim(run2, ["b", "c", "d"]) == {"d"}
        assert one.claim(run1, ["a", "d"]) == {"a"}  # its own again; not the other's
        triage = two.triage(
            [RawInput(k, "file", b"x") for k in "abcde"], reprocess=False, claim_for=run2
        )
        assert triage.elsewhere == ["a", "b", "c"]
        assert [r.key for r in triage.to_process] == ["d", "e"] and not triage.settled
    finally:
        one.close()
        two.close()


def test_concurrent_claims_of_overlapping_batches_never_overlap(ledger_location: str) -> None:
    keys = [f"/in/{i:04d}.txt" for i in range(600)]
    ledgers = [Ledger(ledger_location) for _ in range(2)]
    runs = [lg.start_run("t") for lg in ledgers]
    got: list[set[str]] = [set(), set()]

    def claim(n: int, order: list[str]) -> None:
        for i in range(0, len(order), 50):
            got[n] |= ledgers[n].claim(runs[n], order[i : i + 70])

    threads = [
        threading.Thread(target=claim, args=(0, keys)),
        threading.Thread(target=claim, args=(1, keys[::-1])),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        for lg in ledgers:
            lg.close()
    assert not got[0] & got[1]
    assert got[0] | got[1] == set(keys)


def test_an_expired_claim_is_taken_over(ledger_location: str) -> None:
    dead = Ledger(ledger_location, claim_ttl=-1.0)  # its claims have expired as soon as taken
    live = Ledger(ledger_location)
    try:
        gone = dead.start_run("t")  # stays "running": another machine's run cannot be judged
        assert dead.claim(gone, ["a", "b"]) == {"a", "b"}
        run = live.start_run("t")
        assert live.claim(run, ["a", "b"]) == {"a", "b"}
        assert live.claims() == {"a": run, "b": run}
        assert dead.claim(gone, ["a"]) == set()  # taken: it is the other run's now
    finally:
        dead.close()
        live.close()


def test_the_claims_of_a_run_that_ended_are_free_at_once(ledger_location: str) -> None:
    one, two = Ledger(ledger_location), Ledger(ledger_location)
    try:
        run1 = one.start_run("t")
        one.claim(run1, ["a", "b"])
        run2 = two.start_run("t")
        assert two.claim(run2, ["a"]) == set()
        one.finish_run(run1, "failed", {}, "the index is gone")  # its unrecorded inputs freed
        assert one.claims() == {}
        assert two.claim(run2, ["a", "b"]) == {"a", "b"}
    finally:
        one.close()
        two.close()


def test_recording_releases_the_claim_and_renews_the_others(ledger_location: str) -> None:
    ledger = Ledger(ledger_location)
    other = Ledger(ledger_location)
    try:
        run = ledger.start_run("t")
        ledger.claim(run, ["a", "b"])
        ledger.record(run, [indexed("a", "d1")], {"a": ("r", "c")}, "p")
        assert ledger.claims() == {"b": run}
        run2 = other.start_run("t")
        assert other.claim(run2, ["a", "b"]) == {"a"}  # b: still held by a live run
        triage = other.triage([RawInput("a", "file", b"x")], reprocess=False, claim_for=run2)
        assert triage.to_process and not triage.elsewhere
    finally:
        ledger.close()
        other.close()


def test_a_dry_run_claims_nothing(ledger: Ledger) -> None:
    triage = ledger.triage([RawInput("a", "file", b"x")], reprocess=False)
    assert [r.key for r in triage.to_process] == ["a"]
    assert ledger.claims() == {}
