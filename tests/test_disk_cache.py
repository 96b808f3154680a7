"""The disk cache: what workers would build at every start is built once and read after, and a
cache that cannot be used costs only the build, never a wrong answer or a failed run."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from etl import disk_cache, places
from etl.dates import dateparser_adapter
from etl.process import ProcessOptions, process_stream
from etl.record import RawInput
from etl.settings import Settings
from tests.paths import ROOT


class Builder:
    def __init__(self, value: object) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def test_an_entry_is_built_once_then_read_by_later_processes(tmp_path: Path) -> None:
    disk_cache.use_directory(tmp_path)
    first = Builder({"paris": ("FR",)})
    assert disk_cache.cached("thing", "k1", first) == {"paris": ("FR",)}
    later = Builder({"never": ()})  # what another process would build: not needed
    assert disk_cache.cached("thing", "k1", later) == {"paris": ("FR",)}
    assert (first.calls, later.calls) == (1, 0)


def test_a_new_fingerprint_builds_anew_and_drops_the_old_entry(tmp_path: Path) -> None:
    disk_cache.use_directory(tmp_path)
    disk_cache.cached("thing", "old", Builder(1))
    rebuilt = Builder(2)
    assert disk_cache.cached("thing", "new", rebuilt) == 2
    assert rebuilt.calls == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thing-new.pickle"]


def test_a_damaged_entry_is_built_again_and_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    disk_cache.use_directory(tmp_path)
    disk_cache.cached("thing", "k", Builder([1, 2, 3]))
    entry = tmp_path / "thing-k.pickle"
    entry.write_bytes(entry.read_bytes()[:10])  # a write cut short by a full disk
    again = Builder([1, 2, 3])
    with caplog.at_level(logging.WARNING):
        assert disk_cache.cached("thing", "k", again) == [1, 2, 3]
    assert again.calls == 1
    assert "unreadable" in caplog.text
    assert disk_cache.cached("thing", "k", Builder(None)) == [1, 2, 3]  # replaced whole


def test_a_folder_that_cannot_be_written_costs_only_the_build(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    disk_cache.use_directory(blocked / "cache")
    builder = Builder("value")
    assert disk_cache.cached("thing", "k", builder) == "value"
    assert disk_cache.cached("thing", "k", builder) == "value"
    assert builder.calls == 2
    memo = disk_cache.Memo("answers", lambda: "k")
    assert memo.remembered("q", lambda: 42) == 42


def test_without_a_folder_nothing_is_written(tmp_path: Path) -> None:
    disk_cache.use_directory(None)
    builder = Builder("value")
    disk_cache.cached("thing", "k", builder)
    disk_cache.cached("thing", "k", builder)
    assert builder.calls == 2
    assert list(tmp_path.iterdir()) == []


def test_a_memo_answers_a_later_process_from_disk(tmp_path: Path) -> None:
    disk_cache.use_directory(tmp_path)
    asked: list[str] = []

    def slow(question: str) -> tuple[str, int]:
        asked.append(question)
        return (question, len(question))

    first = disk_cache.Memo("answers", lambda: "k")
    assert first.remembered("spring", lambda: slow("spring")) == ("spring", 6)
    assert first.remembered("spring", lambda: slow("spring")) == ("spring", 6)
    later = disk_cache.Memo("answers", lambda: "k")  # as a new process opens it
    assert later.remembered("spring", lambda: slow("spring")) == ("spring", 6)
    assert later.remembered("none", lambda: None) is None  # None is an answer too
    assert later.remembered("none", lambda: slow("none")) is None
    assert asked == ["spring"]
    other = disk_cache.Memo("answers", lambda: "other version")
    assert other.remembered("spring", lambda: slow("spring")) == ("spring", 6)
    assert asked == ["spring", "spring"]
    assert {p.name for p in tmp_path.glob("*.sqlite")} == {"answers-other version.sqlite"}


def test_the_gazetteer_read_from_the_cache_places_names_as_the_built_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lookups() -> list[tuple[str, str] | None]:
        cases = [("Georgia", ("US",)), ("Georgia", ()), ("U.S.", ()), ("Köln", ()), ("Paris", ())]
        found = [places.lookup(name, countries) for name, countries in cases]
        return [(p.name, p.country) if p else None for p in found]

    places._index.cache_clear()
    built = lookups()
    disk_cache.use_directory(tmp_path)
    places._index.cache_clear()
    assert lookups() == built  # built and written
    builds: list[int] = []
    real_build = places._build_index
    monkeypatch.setattr(places, "_build_index", lambda: builds.append(1) or real_build())
    places._index.cache_clear()  # as in a new worker
    try:
        assert lookups() == built
        assert builds == []  # read, not built
        assert built[0] == ("Georgia", "US")
    finally:
        places._index.cache_clear()


def test_a_worker_meeting_only_phrases_asked_before_never_loads_dateparser(
    tmp_path: Path,
) -> None:
    """A fresh interpreter, as a worker of a later run: the answer comes from the disk."""
    disk_cache.use_directory(tmp_path)
    phrase, ref = "4 abril 2024", date(2024, 6, 1)
    dateparser_adapter.dateparser_fallback.cache_clear()
    asked = dateparser_adapter.dateparser_fallback(phrase, ref)
    assert asked is not None
    code = (
        "import sys; from datetime import date; from etl import disk_cache; "
        f"disk_cache.use_directory({str(tmp_path)!r}); "
        "from etl.dates.dateparser_adapter import dateparser_fallback as f; "
        f"m = f({phrase!r}, date(2024, 6, 1)); "
        "print(m.value, 'dateparser' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == [asked.value, "False"]
    dateparser_adapter.dateparser_fallback.cache_clear()


def test_a_run_keeps_its_cache_in_the_folder_of_the_settings(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    settings = Settings(index=str(tmp_path / "index.db"), workers=1, cache_dir=str(folder))
    text = "Officials in Paris said on Monday that the talks would go on. " * 12
    raw = RawInput(key=str(tmp_path / "a.txt"), kind="file", data=text.encode())
    places._index.cache_clear()
    try:
        (batch,) = process_stream([raw], ProcessOptions.of(settings), workers=1)
    finally:
        places._index.cache_clear()
    assert batch[0].article is not None
    assert any(p.name.startswith("places-index-") for p in folder.iterdir())
