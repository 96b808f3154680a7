"""The batch as a user sees it: every input ends in exactly one recorded outcome."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from etl.backends.base import SearchRequest, TransientIndexError
from etl.backends.sqlite.backend import SqliteBackend
from etl.inputs import changed_files
from etl.ledger import Ledger
from etl.outcomes import Outcome
from etl.pipeline import ingest
from etl.settings import Settings
from tests.conftest import SEED_PEOPLE, SEED_PLACES

ARTICLE = (
    "The city council of Porto approved a new tram line on Tuesday after a long debate. "
    "Mayor Ana Ribeiro said the line would open in 2027 and connect the university with the "
    "harbour. Opponents argued that the budget of the project had doubled since 2019, while "
    "supporters pointed to the traffic jams that block the old town every morning. Ribeiro "
    "promised a public consultation next month.\n"
)


def outcomes(report) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {Path(o.source).name: (o.outcome.value, o.reason) for o in report.outcomes}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    (src / "porto.txt").write_text("Porto approves tram line\n" + ARTICLE, encoding="utf-8")
    (src / "page.html").write_text(
        "<html lang='en'><head><title>Lisbon ferry</title></head><body><nav><a href='/'>Home</a>"
        "</nav><article><h1>Lisbon ferry returns</h1><p>"
        + ARTICLE.replace("Porto", "Lisbon")
        + "</p></article><footer>Copyright</footer></body></html>",
        encoding="utf-8",
    )
    return src


def test_ingest_then_unchanged_then_changed(folder: Path, settings: Settings) -> None:
    first = ingest([str(folder)], settings)
    assert first.counts == {"indexed": 2, "unchanged": 0, "duplicate": 0, "rejected": 0}
    index = SqliteBackend(settings.index)
    assert index.search(SearchRequest(query="tram")).total == 2

    second = ingest([str(folder)], settings)
    assert second.counts["unchanged"] == 2 and second.counts["indexed"] == 0

    (folder / "porto.txt").write_text(
        "Porto approves tram line\n" + ARTICLE.replace("tram line", "cable car"), encoding="utf-8"
    )
    third = ingest([str(folder)], settings)
    assert outcomes(third)["porto.txt"][0] == "indexed"
    assert outcomes(third)["page.html"][0] == "unchanged"
    # The changed file updated its document: the old one is gone, not left beside it.
    assert index.count() == 2
    assert index.search(SearchRequest(query='"cable car"')).total == 1
    assert index.search(SearchRequest(query='"Porto approved a new tram line"')).total == 0
    index.close()


def test_duplicate_names_the_earlier_document(folder: Path, settings: Settings) -> None:
    first = ingest([str(folder / "porto.txt")], settings)
    original = first.outcomes[0].doc_id
    shutil.copy(folder / "porto.txt", folder / "porto-copy.txt")
    report = ingest([str(folder)], settings)
    dup = next(o for o in report.outcomes if o.source.endswith("porto-copy.txt"))
    assert dup.outcome is Outcome.DUPLICATE
    assert dup.duplicate_of == original
    assert "porto.txt" in dup.reason


# Hostile inputs (empty, binary, too large, gzip bombs, ...): tests/test_fault_matrix.py.


def test_unchanged_rejected_inputs_keep_their_reason_without_reparsing(
    folder: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "empty.txt").write_bytes(b"")
    (folder / "short.txt").write_text("Too short to be an article.", encoding="utf-8")
    first = outcomes(ingest([str(folder)], settings))
    assert first["short.txt"][0] == "rejected"
    # Nothing is parsed again: the second run must not need the extractor at all.
    monkeypatch.setattr("etl.process.extract", lambda *a, **k: pytest.fail("parsed again"))
    again = outcomes(ingest([str(folder)], settings))
    assert again["short.txt"] == first["short.txt"]
    assert again["empty.txt"] == ("rejected", "empty file")
    assert again["porto.txt"][0] == "unchanged"
    assert changed_files([str(folder)], settings) == [str(folder / "empty.txt")]
    monkeypatch.undo()
    (folder / "short.txt").write_text(
        "Braga\n" + ARTICLE.replace("Porto", "Braga"), encoding="utf-8"
    )
    assert outcomes(ingest([str(folder)], settings))["short.txt"][0] == "indexed"


def test_reprocess_and_dry_run(folder: Path, settings: Settings) -> None:
    dry = ingest([str(folder)], settings, dry_run=True)
    assert dry.counts["indexed"] == 2
    assert not Path(settings.index).exists() or SqliteBackend(settings.index).count() == 0
    ingest([str(folder)], settings)
    again = ingest([str(folder)], settings, reprocess=True)
    assert again.counts["indexed"] == 2


def test_ledger_keeps_runs_and_outcomes(folder: Path, settings: Settings) -> None:
    report = ingest([str(folder)], settings)
    ledger = Ledger(settings.ledger_location)
    runs = ledger.runs()
    assert runs[0]["run_id"] == report.run_id and runs[0]["status"] == "ok"
    assert runs[0]["counts"]["indexed"] == 2
    assert {Path(o["source"]).name for o in ledger.run_outcomes(report.run_id)} == {
        "porto.txt",
        "page.html",
    }
    ledger.close()


def test_changed_files_lists_only_new_and_changed(folder: Path, settings: Settings) -> None:
    assert len(changed_files([str(folder)], settings)) == 2
    ingest([str(folder)], settings)
    assert changed_files([str(folder)], settings) == []
    (folder / "new.txt").write_text("New\n" + ARTICLE, encoding="utf-8")
    assert [Path(p).name for p in changed_files([str(folder)], settings)] == ["new.txt"]


class BrokenIndex(SqliteBackend):
    def upsert(self, articles):  # type: ignore[no-untyped-def]
        raise TransientIndexError("index unreachable: connection refused")


def test_index_failure_fails_the_run_and_leaves_inputs_pending(
    folder: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr("etl.pipeline.open_backend", lambda s: BrokenIndex(s.index))
        with pytest.raises(TransientIndexError):
            ingest([str(folder)], settings)
    ledger = Ledger(settings.ledger_location)
    assert ledger.runs()[0]["status"] == "failed"
    assert ledger.states([str(folder / "porto.txt")]) == {}  # pending: nothing recorded
    ledger.close()
    report = ingest([str(folder)], settings)
    assert report.counts["indexed"] == 2


def test_seed_article_is_indexed_and_searchable(seed: Path, settings: Settings) -> None:
    report = ingest([str(seed.parent)], settings)
    assert report.counts["indexed"] == 1
    index = SqliteBackend(settings.index)
    result = index.search(SearchRequest(query="Donbas", facets=["person", "location"]))
    assert result.total == 1
    people = {v.value for v in result.facets["person"]}
    assert people >= SEED_PEOPLE
    assert "Putin" not in people
    assert {v.value for v in result.facets["location"]} >= SEED_PLACES
    doc = index.get(result.hits[0].id) or {}
    putin = next(e for e in doc["entities"] if e["name"] == "Vladimir Putin")
    assert putin["count"] >= 5
    year = next(m for m in doc["date_mentions"] if m["text"] == "2014")
    assert (year["value"], year["granularity"]) == ("2014", "year")
    assert doc["title_derived"] is True
    index.close()


def stored(settings: Settings) -> list[dict[str, Any]]:
    """The documents a run stored, without the moment each was processed."""
    index = SqliteBackend(settings.index)
    try:
        return [
            {k: v for k, v in doc.items() if k != "processed_at"} for doc in index.iter_documents()
        ]
    finally:
        index.close()


def test_parallel_workers_give_the_same_result(folder: Path, tmp_path: Path) -> None:
    one = Settings(index=str(tmp_path / "one.db"), workers=1)
    one_report = ingest([str(folder)], one)
    settings = Settings(index=str(tmp_path / "par.db"), workers=2)
    report = ingest([str(folder)], settings)
    assert report.counts["indexed"] == 2
    assert outcomes(report) == outcomes(one_report)
    assert stored(settings) == stored(one)


def test_a_daemonic_process_ingests_without_worker_processes(folder: Path, tmp_path: Path) -> None:
    import multiprocessing

    def run(queue: Any) -> None:
        settings = Settings(index=str(tmp_path / "daemon.db"), workers=2)
        queue.put(ingest([str(folder)], settings).counts["indexed"])

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=run, args=(queue,), daemon=True)
    child.start()
    child.join(300)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == 2


def test_progress_is_logged_for_long_batches(
    folder: Path, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from etl.outcomes import log_progress

    with caplog.at_level(logging.INFO, logger="progress-test"):
        ingest(
            [str(folder)],
            settings,
            on_outcome=log_progress(logging.getLogger("progress-test"), every=1),
        )
    assert [r.getMessage() for r in caplog.records] == [
        "1 inputs done: indexed 1",
        "2 inputs done: indexed 2",
    ]


def test_outcome_table_shows_files_below_the_root_relative(
    folder: Path, settings: Settings
) -> None:
    report = ingest([str(folder)], settings)
    table = report.table(root=str(folder))
    rows = table.splitlines()[1:-1]
    assert rows and all(not row.startswith(str(folder)) for row in rows)
    assert {row.split()[0] for row in rows} == {p.name for p in folder.iterdir()}
    assert str(folder) in report.table()  # without a root: the full paths
