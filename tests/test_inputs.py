"""The read step: files at rest whose stat signature is the one noted with their bytes hash are
not read again (``etl.ledger.file_hashes``), and nothing that changed is ever taken for
unchanged."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import etl.extract
import etl.inputs
import etl.process
import etl.sources
from etl.backends.base import SearchRequest
from etl.backends.sqlite.backend import SqliteBackend
from etl.inputs import VANISHED, changed_files
from etl.ledger import Ledger
from etl.pipeline import ingest
from etl.record import RawInput
from etl.settings import Settings

TEXT = (
    "{place} approves tram line\nThe city council of {place} approved a new tram line on "
    "Tuesday after a long debate. Mayor Ana Ribeiro said the line would open in 2027 and "
    "connect the university with the harbour. Opponents argued that the budget of the project "
    "had doubled since 2019, while supporters pointed to the traffic jams that block the old "
    "town every morning. Ribeiro promised a public consultation next month.\n"
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    for place in ("Porto", "Braga", "Faro"):
        (src / f"{place.lower()}.txt").write_text(TEXT.format(place=place), encoding="utf-8")
    return src


@pytest.fixture
def at_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as at rest at once (they do after ``SETTLED_FILE_SECONDS`` in real use)."""
    monkeypatch.setattr(etl.sources, "SETTLED_FILE_SECONDS", 0.0)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """The files the read step reads, by name."""
    counted: Counter[str] = Counter()
    real = etl.inputs.read_file

    def counting(path: Path, *args: Any, **kwargs: Any) -> Any:
        counted[Path(path).name] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(etl.inputs, "read_file", counting)
    yield counted


def outcomes(settings: Settings, folder: Path, **kwargs: Any) -> dict[str, str]:
    report = ingest([str(folder)], settings, **kwargs)
    return {Path(o.source).name: o.outcome.value for o in report.outcomes}


@pytest.mark.usefixtures("at_rest")
def test_a_second_run_reads_no_untouched_file(
    folder: Path, settings: Settings, reads: Counter[str]
) -> None:
    assert set(outcomes(settings, folder).values()) == {"indexed"}
    reads.clear()
    assert set(outcomes(settings, folder).values()) == {"unchanged"}
    assert reads == Counter()


@pytest.mark.usefixtures("at_rest")
def test_a_file_rewritten_with_its_size_and_times_put_back_is_read_and_indexed(
    folder: Path, settings: Settings
) -> None:
    outcomes(settings, folder)
    porto = folder / "porto.txt"
    before = porto.stat()
    porto.write_text(TEXT.format(place="Pxrto"), encoding="utf-8")  # same size
    os.utime(porto, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p or touch -r would
    assert porto.stat().st_size == before.st_size
    assert outcomes(settings, folder) == {
        "porto.txt": "indexed",
        "braga.txt": "unchanged",
        "faro.txt": "unchanged",
    }
    index = SqliteBackend(settings.index)
    try:
        assert index.search(SearchRequest(query="Pxrto")).total == 1
    finally:
        index.close()


def test_a_file_written_moments_ago_is_read_every_time(
    folder: Path, settings: Settings, reads: Counter[str]
) -> None:
    outcomes(settings, folder)
    reads.clear()
    assert set(outcomes(settings, folder).values()) == {"unchanged"}
    assert reads == Counter({"porto.txt": 1, "braga.txt": 1, "faro.txt": 1})


@pytest.mark.usefixtures("at_rest")
def test_reprocessing_reads_and_indexes_files_known_by_their_hash(
    folder: Path, settings: Settings, reads: Counter[str]
) -> None:
    outcomes(settings, folder)
    reads.clear()
    assert set(outcomes(settings, folder, reprocess=True).values()) == {"indexed"}
    assert reads == Counter({"porto.txt": 1, "braga.txt": 1, "faro.txt": 1})


@pytest.mark.usefixtures("at_rest")
def test_the_airflow_listing_of_new_files_reads_no_untouched_file(
    folder: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes(settings, folder)
    hashed: list[Path] = []
    real = etl.inputs.recorded_hash
    monkeypatch.setattr(
        etl.inputs, "recorded_hash", lambda path, limit: hashed.append(path) or real(path, limit)
    )
    assert changed_files([str(folder)], settings) == []
    assert hashed == []
    (folder / "faro.txt").write_text(TEXT.format(place="Tavira"), encoding="utf-8")
    assert changed_files([str(folder)], settings) == [str(folder / "faro.txt")]


# --- files of one input are read by the worker that processes them ----------------------------


def page(place: str) -> str:
    body = TEXT.format(place=place).replace("\n", "</p><p>")
    return (
        f"<html><head><title>{place} tram</title></head><body><article><p>{body}</p></article>"
        "</body></html>"
    )


ALL_INPUTS = [  # of ``kinds``, sorted
    "braga.md",
    "faro.html",
    "porto.txt",
    "records.jsonl#L1",
    "records.jsonl#L2",
    "tavira.html.gz",
]


@pytest.fixture
def kinds(tmp_path: Path) -> Path:
    """One file of each kind that is one input, and a JSON Lines file of two records."""
    src = tmp_path / "kinds"
    src.mkdir()
    (src / "porto.txt").write_text(TEXT.format(place="Porto"), encoding="utf-8")
    (src / "braga.md").write_text("# " + TEXT.format(place="Braga"), encoding="utf-8")
    (src / "faro.html").write_text(page("Faro"), encoding="utf-8")
    (src / "tavira.html.gz").write_bytes(gzip.compress(page("Tavira").encode("utf-8")))
    records = [
        json.dumps({"url": f"https://news.example/{p.lower()}", "text": TEXT.format(place=p)})
        for p in ("Evora", "Elvas")
    ]
    (src / "records.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    return src


@pytest.fixture
def handed_over(monkeypatch: pytest.MonkeyPatch) -> list[RawInput]:
    """Copies of the inputs the run hands to ``process_stream``, as they are handed over."""
    seen: list[RawInput] = []
    real = etl.process.process_stream

    def spying(raws: Iterable[RawInput], *args: Any, **kwargs: Any) -> Any:
        def copied() -> Iterator[RawInput]:
            for raw in raws:
                seen.append(replace(raw))
                yield raw

        return real(copied(), *args, **kwargs)

    monkeypatch.setattr("etl.pipeline.process_stream", spying)
    return seen


@pytest.fixture
def extracted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[], list[str]]:
    """The names of the inputs extracted (by runs of one worker: a fork server's workers would
    not see this patch)."""
    log = tmp_path / "extracted.log"
    log.touch()
    real = etl.extract.extract

    def logging_extract(raw: RawInput, **kwargs: Any) -> Any:
        with log.open("a", encoding="utf-8") as fh:
            fh.write(Path(raw.key).name + "\n")
        return real(raw, **kwargs)

    monkeypatch.setattr("etl.process.extract", logging_extract)
    return lambda: sorted(log.read_text(encoding="utf-8").split())


def test_the_main_process_hands_workers_paths_of_files_not_their_bytes(
    kinds: Path, settings: Settings, handed_over: list[RawInput]
) -> None:
    assert set(outcomes(settings, kinds).values()) == {"indexed"}
    by_name = {Path(raw.key).name: raw for raw in handed_over}
    assert sorted(by_name) == ALL_INPUTS
    for name in ("braga.md", "faro.html", "porto.txt", "tavira.html.gz"):
        assert by_name[name].data == b"", name
        assert by_name[name].worker_read is not None, name
    # The records of a JSON Lines file are read by the main process, as before.
    assert by_name["records.jsonl#L1"].data and by_name["records.jsonl#L1"].worker_read is None


@pytest.mark.usefixtures("at_rest")
def test_a_touched_but_identical_file_is_unchanged_without_extraction(
    kinds: Path, settings: Settings, reads: Counter[str], extracted: Callable[[], list[str]]
) -> None:
    outcomes(settings, kinds)
    for name in ("porto.txt", "tavira.html.gz"):
        os.utime(kinds / name, ns=(1_700_000_000_000_000_000,) * 2)  # new times, same bytes
    log_before, reads_before = extracted(), reads.copy()
    again = outcomes(settings, kinds)
    assert set(again.values()) == {"unchanged"}
    assert extracted() == log_before  # nothing extracted again
    assert reads - reads_before == Counter(
        {"porto.txt": 1, "tavira.html.gz": 1, "records.jsonl": 1}
    )
    # Their new signatures are noted: the next run reads neither of them.
    reads.clear()
    assert set(outcomes(settings, kinds).values()) == {"unchanged"}
    assert reads == Counter({"records.jsonl": 1})
    # For Airflow, only the container is new (its records are checked one by one by a run).
    assert changed_files([str(kinds)], settings) == [str(kinds / "records.jsonl")]


def processed_at(settings: Settings, folder: Path) -> dict[str, str]:
    """When each input's document in the index was extracted (``Article.processed_at``)."""
    report = ingest([str(folder)], settings)
    assert all(o.doc_id for o in report.outcomes), report.outcomes
    index = SqliteBackend(settings.index)
    try:
        docs = {Path(o.source).name: index.get(str(o.doc_id)) for o in report.outcomes}
    finally:
        index.close()
    return {name: str(doc["processed_at"]) for name, doc in docs.items() if doc}


@pytest.mark.usefixtures("at_rest")
def test_worker_processes_read_files_index_edited_ones_and_skip_identical_ones(
    kinds: Path, tmp_path: Path
) -> None:
    """With real worker processes (forked or from a fork server, as the run decides): the
    document of a touched but identical file is not extracted again, an edited one is."""
    settings = Settings(index=str(tmp_path / "par.db"), workers=2)
    first = processed_at(settings, kinds)
    assert sorted(first) == ALL_INPUTS
    time.sleep(1.1)  # a document extracted again would carry a later second
    os.utime(kinds / "porto.txt", ns=(1_700_000_000_000_000_000,) * 2)  # touched only
    (kinds / "faro.html").write_text(page("Olhao"), encoding="utf-8")  # edited
    again = processed_at(settings, kinds)
    assert again["faro.html"] > first["faro.html"]
    assert {n: t for n, t in again.items() if n != "faro.html"} == {
        n: t for n, t in first.items() if n != "faro.html"
    }
    index = SqliteBackend(settings.index)
    try:
        assert index.search(SearchRequest(query="Olhao")).total == 1
        assert index.search(SearchRequest(query="Faro")).total == 0
    finally:
        index.close()


def test_a_file_deleted_after_it_was_claimed_is_rejected_as_vanished(
    folder: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = etl.process.process_stream

    def deleting_before_the_worker_reads(raws: Iterable[RawInput], *a: Any, **k: Any) -> Any:
        def handed() -> Iterator[RawInput]:
            for raw in raws:
                if raw.key.endswith("braga.txt"):
                    Path(raw.key).unlink()
                yield raw

        return real(handed(), *a, **k)

    monkeypatch.setattr("etl.pipeline.process_stream", deleting_before_the_worker_reads)
    report = ingest([str(folder)], settings)
    got = {Path(o.source).name: (o.outcome.value, o.reason) for o in report.outcomes}
    assert got == {
        "braga.txt": ("rejected", VANISHED),
        "faro.txt": ("indexed", ""),
        "porto.txt": ("indexed", ""),
    }
    ledger = Ledger(settings.ledger_location)
    try:
        assert ledger.states([str(folder / "braga.txt")])[str(folder / "braga.txt")].reason == (
            VANISHED
        )
        assert ledger.claims() == {}
    finally:
        ledger.close()


@pytest.mark.usefixtures("at_rest")
def test_a_dry_run_reads_touched_files_in_the_worker_and_records_nothing(
    folder: Path, settings: Settings, extracted: Callable[[], list[str]]
) -> None:
    outcomes(settings, folder)
    os.utime(folder / "porto.txt", ns=(1_700_000_000_000_000_000,) * 2)
    (folder / "faro.txt").write_text(TEXT.format(place="Lagos"), encoding="utf-8")
    log_before = extracted()
    assert outcomes(settings, folder, dry_run=True) == {
        "porto.txt": "unchanged",
        "braga.txt": "unchanged",
        "faro.txt": "indexed",
    }
    assert extracted() == sorted([*log_before, "faro.txt"])
    assert [Path(p).name for p in changed_files([str(folder)], settings)] == ["faro.txt"]


def test_files_rejected_from_their_stat_alone_are_settled_without_a_worker(
    folder: Path, tmp_path: Path, handed_over: list[RawInput]
) -> None:
    settings = Settings(index=str(tmp_path / "index.db"), workers=1, max_input_bytes=10_000)
    (folder / "empty.txt").write_bytes(b"")
    with open(folder / "huge.txt", "wb") as fh:  # sparse: costs no disk
        fh.truncate(20_000)
    (folder / "cut.html.gz").write_bytes(gzip.compress(b"<html>")[:10])  # read to be rejected
    report = ingest([str(folder)], settings)
    got = {Path(o.source).name: (o.outcome.value, o.reason) for o in report.outcomes}
    assert got["empty.txt"] == ("rejected", "empty file")
    assert got["huge.txt"][1].startswith("file too large: 20,000 bytes > limit 10,000")
    assert got["cut.html.gz"][1].startswith("not a valid gzip file")
    assert sorted(Path(raw.key).name for raw in handed_over) == [
        "braga.txt",
        "cut.html.gz",
        "faro.txt",
        "porto.txt",
    ]
