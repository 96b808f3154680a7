"""The read step: files at rest whose stat signature is the one noted with their bytes hash are
not read again (``etl.ledger.file_hashes``), and nothing that changed is ever taken for
unchanged."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import etl.inputs
import etl.sources
from etl.backends.base import SearchRequest
from etl.backends.sqlite.backend import SqliteBackend
from etl.inputs import changed_files
from etl.pipeline import ingest
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
