"""The batch as a user sees it: every input ends in exactly one recorded outcome."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from etl.backends.base import SearchRequest, TransientIndexError
from etl.backends.sqlite import SqliteBackend
from etl.ledger import Ledger
from etl.pipeline import changed_files, ingest
from etl.record import Outcome
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


def test_bad_inputs_each_get_a_reason_and_good_ones_are_indexed(
    folder: Path, settings: Settings
) -> None:
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (folder / "latin1.txt").write_bytes(
        ("Café society in Zürich\n" + ARTICLE.replace("Porto", "Zürich café")).encode("latin-1")
    )
    with open(folder / "huge.txt", "wb") as fh:  # 50 MB, sparse: costs no disk
        fh.truncate(50 * 1024 * 1024)
    (folder / "nav.html").write_text(
        "<html><body><nav><ul>"
        + "".join(f"<li><a href='/p{i}'>Page {i}</a></li>" for i in range(40))
        + "</ul></nav></body></html>",
        encoding="utf-8",
    )
    (folder / "bomb.html.gz").write_bytes(gzip.compress(b"<html>" + b" " * 30_000_000))

    report = ingest([str(folder), str(folder / "missing.html")], settings)
    got = outcomes(report)
    assert got["porto.txt"][0] == got["page.html"][0] == got["latin1.txt"][0] == "indexed"
    assert got["empty.txt"] == ("rejected", "empty file")
    assert got["binary.txt"][0] == "rejected" and "binary" in got["binary.txt"][1]
    assert got["huge.txt"][0] == "rejected" and "too large" in got["huge.txt"][1]
    assert got["nav.html"][0] == "rejected" and "not an article" in got["nav.html"][1]
    assert got["bomb.html.gz"][0] == "rejected" and "gzip" in got["bomb.html.gz"][1]
    assert got["missing.html"] == ("rejected", "no such file or directory")
    assert len(report.outcomes) == len(got) == 9  # exactly one outcome per input

    index = SqliteBackend(settings.index)
    latin = index.search(SearchRequest(query="Zürich")).hits
    assert latin and "Zürich" in (index.get(latin[0].id) or {})["text"]
    index.close()


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
    ledger = Ledger(settings.ledger_path)
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
    monkeypatch.setattr("etl.pipeline.open_backend", lambda s: BrokenIndex(s.index))
    with pytest.raises(TransientIndexError):
        ingest([str(folder)], settings)
    ledger = Ledger(settings.ledger_path)
    assert ledger.runs()[0]["status"] == "failed"
    assert ledger.states([str(folder / "porto.txt")]) == {}  # pending: nothing recorded
    ledger.close()
    monkeypatch.undo()
    os.environ["ARTICLE_ETL_WORKERS"] = "1"
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


def test_parallel_workers_give_the_same_result(folder: Path, tmp_path: Path) -> None:
    settings = Settings(index=str(tmp_path / "par.db"), workers=2)
    report = ingest([str(folder)], settings)
    assert report.counts["indexed"] == 2


def test_two_processes_can_ingest_into_one_index_at_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    index = tmp_path / "shared.db"
    folders = []
    for n in range(2):
        folder = tmp_path / f"batch{n}"
        folder.mkdir()
        for i in range(3):
            (folder / f"a{i}.txt").write_text(
                f"Story {n}-{i}\n" + ARTICLE.replace("Porto", f"Town{n}x{i}"), encoding="utf-8"
            )
        folders.append(folder)
    env = {**os.environ, "ARTICLE_ETL_INDEX": str(index), "ARTICLE_ETL_WORKERS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "etl", "ingest", str(f), "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for f in folders
    ]
    for proc in procs:
        _stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr.decode()
    assert SqliteBackend(index).count() == 6
    assert len(Ledger(index).runs()) == 2


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

    from etl.pipeline import log_progress

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
