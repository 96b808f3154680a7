"""Issue 12, item 10: every hostile input, in one place.

Each row of ``CASES`` puts one hostile input into a batch beside two good articles and ingests
the batch: the hostile input ends in its one recorded outcome (``rejected`` with the reason, or
``indexed`` when it can be read safely), the good articles are indexed, and the run is ``ok``
with exactly one outcome per input. The cases that need more than a file (two ingests of one
folder at once, an ingest while searching, a file that vanishes between listing and reading,
the command line end to end) follow the table.

Elsewhere: the extraction and reading units (``tests/test_extract.py``, ``tests/test_sources.py``)
and hostile web servers (``tests/web/test_fetch_hostile.py``); surprises inside the pipeline's own
steps and killed processes (``tests/test_reliability.py``, ``tests/test_crash_consistency.py``).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from etl.backends.base import SearchRequest
from etl.backends.sqlite.backend import SqliteBackend
from etl.inputs import changed_files
from etl.ledger import Ledger
from etl.outcomes import RunReport
from etl.pipeline import ingest
from etl.settings import Settings
from tests.paths import ROOT
from tests.test_pipeline import ARTICLE

BAD_NAME = os.fsdecode(b"bad\xff.txt")  # not UTF-8: a surrogate escape in the str
SAFE_BAD_NAME = "bad\\xff.txt"  # how it is recorded: a backslash escape, valid Unicode


def story(place: str) -> str:
    return f"{place} approves tram line\n" + ARTICLE.replace("Porto", place)


def page(place: str, head: str = "", extra: str = "") -> str:
    return (
        f"<html><head>{head}<title>{place} tram</title></head><body><article>"
        f"<h1>{place} approves tram line</h1><p>{ARTICLE.replace('Porto', place)}</p>{extra}"
        "</article></body></html>"
    )


def by_name(report: RunReport) -> dict[str, tuple[str, str]]:
    return {Path(o.source).name: (o.outcome.value, o.reason) for o in report.outcomes}


def documents(settings: Settings) -> list[dict[str, Any]]:
    index = SqliteBackend(settings.index)
    try:
        return list(index.iter_documents())
    finally:
        index.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    (src / "porto.txt").write_text(story("Porto"), encoding="utf-8")
    (src / "braga.txt").write_text(story("Braga"), encoding="utf-8")
    return src


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """``make`` writes the hostile input (into the batch's folder, or beside it) and returns
    what to ingest besides the folder; ``expect``: input name -> (outcome, part of the reason);
    ``check``: more to verify afterwards."""

    id: str
    make: Callable[[Path], list[str]]
    expect: dict[str, tuple[str, str]]
    max_bytes: int = 10 * 1024 * 1024
    check: Callable[[Settings, RunReport], None] = lambda settings, report: None
    skip: str = ""  # why the case cannot be played here ("" when it can)


def write(name: str, data: bytes | str) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        path = folder / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return []

    return make


def write_jsonl(name: str, lines: list[str]) -> Callable[[Path], list[str]]:
    return write(name, "\n".join(lines) + "\n")


def record(place: str) -> str:
    return json.dumps({"url": f"https://news.example/{place.lower()}", "text": story(place)})


def gzipped_then_cut(folder: Path) -> list[str]:
    whole = gzip.compress(page("Evora").encode("utf-8"))
    (folder / "cut.html.gz").write_bytes(whole[: len(whole) // 2])
    return []


def sparse_50mb(folder: Path) -> list[str]:
    with open(folder / "huge.txt", "wb") as fh:  # 50 MB, sparse: costs no disk
        fh.truncate(50 * 1024 * 1024)
    return []


def bad_name(folder: Path) -> list[str]:
    try:
        (folder / BAD_NAME).write_text(story("Coimbra"), encoding="utf-8")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    return []


def fifo(folder: Path) -> list[str]:
    path = folder.parent / "pipe.html"  # named: a walk skips what is not a file
    os.mkfifo(path)
    return [str(path)]


def unreadable(folder: Path) -> list[str]:
    path = folder / "secret.txt"
    path.write_text(story("Viseu"), encoding="utf-8")
    path.chmod(0)
    return []


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "' + (f"&lol{i - 1};" if i > 1 else "&lol;") * 10 + '">'
        for i in range(1, 10)
    )
    + "]>"
)


def laughs_not_expanded(settings: Settings, report: RunReport) -> None:
    (doc,) = [d for d in documents(settings) if d["source"].endswith("laughs.html")]
    assert len(doc["text"]) < 2000  # a billion "lol"s would be 3 GB


def nothing_read_from_outside(settings: Settings, report: RunReport) -> None:
    shown = json.dumps([o.as_dict() for o in report.outcomes]) + json.dumps(documents(settings))
    assert "root:" not in shown


def a_replacement_character(settings: Settings, report: RunReport) -> None:
    (doc,) = [d for d in documents(settings) if d["source"].endswith("utf7.html")]
    assert "\ufffd" in doc["text"]


def safe_key_and_unchanged_next_time(settings: Settings, report: RunReport) -> None:
    (folder,) = {Path(o.source).parent for o in report.outcomes}
    (hit,) = SqliteBackend(settings.index).search(SearchRequest(query="Coimbra")).hits
    assert hit.source == str(folder / SAFE_BAD_NAME)
    again = ingest([str(folder)], settings)  # the same key: unchanged, not a new document
    assert {v[0] for v in by_name(again).values()} == {"unchanged"}
    assert changed_files([str(folder)], settings) == []


def lone_surrogate_record() -> str:
    """Valid JSON, but "\\ud800" is a lone surrogate: no UTF-8 encoding exists for it."""
    return json.dumps({"url": "https://news.example/a", "text": "Lone \ud800 " + story("Faro")})


def comment_not_in_text(settings: Settings, name: str) -> None:
    (doc,) = [d for d in documents(settings) if d["source"].endswith(name)]
    assert doc["title"] == "Sintra approves tram line"
    assert "Sintra" in doc["text"] and "draft" not in doc["text"]


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


CASES = [
    Case("empty-file", write("empty.txt", b""), {"empty.txt": ("rejected", "empty file")}),
    Case("blank-file", write("blank.txt", " \n\t\n"), {"blank.txt": ("rejected", "empty file")}),
    Case(
        "binary-file",
        write("binary.txt", bytes(range(256)) * 64),
        {"binary.txt": ("rejected", "binary file (not text)")},
    ),
    Case(
        "truncated-gzip",
        gzipped_then_cut,
        {"cut.html.gz": ("rejected", "not a valid gzip file: Compressed file ended")},
    ),
    Case(
        "not-gzip-at-all",
        write("fake.html.gz", b"not gzip at all"),
        {"fake.html.gz": ("rejected", "not a valid gzip file")},
    ),
    Case(
        "gzip-bomb",
        write("bomb.html.gz", gzip.compress(b"<html>" + b" " * 30_000_000)),
        {"bomb.html.gz": ("rejected", "possible gzip bomb")},
    ),
    Case(
        "billion-laughs-in-html",
        write("laughs.html", BILLION_LAUGHS + page("Tomar", extra="<p>&lol9;</p>")),
        {"laughs.html": ("indexed", "")},
        check=laughs_not_expanded,
    ),
    Case(
        "external-entity-in-html",
        write(
            "xxe.html",
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            + page("Faro", extra="<p>&xxe;</p>"),
        ),
        {"xxe.html": ("indexed", "")},
        check=nothing_read_from_outside,
    ),
    Case(
        "50MB-over-the-limit",
        sparse_50mb,
        {"huge.txt": ("rejected", "file too large: 52,428,800 bytes > limit 10,485,760")},
    ),
    Case(
        "deeply-nested-html",
        write("deep.html", page("Lagos", extra="<div>" * 100_000 + "deep" + "</div>" * 100_000)),
        {"deep.html": ("indexed", "")},
    ),
    Case(
        "nested-so-deep-the-text-is-lost",
        write("abyss.html", "<html><body>" + "<div>" * 100_000 + page("Beja") + "</body></html>"),
        {"abyss.html": ("rejected", "not an article")},
    ),
    Case(
        "navigation-only-page",
        write(
            "nav.html",
            "<html><body><nav><ul>"
            + "".join(f"<li><a href='/p{i}'>Page {i}</a></li>" for i in range(40))
            + "</ul></nav></body></html>",
        ),
        {"nav.html": ("rejected", "not an article")},
    ),
    Case(
        # Found by tests/fuzz/fuzz_extract.py: a comment in Markdown failed the extraction.
        "markdown-with-an-html-comment",
        write(
            "notes.md",
            "# Sintra approves tram line\n\n<!-- draft: do not publish -->\n\n"
            + ARTICLE.replace("Porto", "Sintra")
            + "\n<?php echo 1; ?>\n",
        ),
        {"notes.md": ("indexed", "")},
        check=lambda settings, report: comment_not_in_text(settings, "notes.md"),
    ),
    Case(
        "legacy-encoding",
        write(
            "latin1.txt",
            ("Café society in Zürich\n" + ARTICLE.replace("Porto", "Zürich café")).encode(
                "latin-1"
            ),
        ),
        {"latin1.txt": ("indexed", "")},
    ),
    Case(
        # Found by tests/fuzz/fuzz_decode.py: the codec exists but cannot replace bad bytes.
        "charset-python-cannot-decode-with",
        write("idna.html", page("Sines", head='<meta charset="idna">')),
        {"idna.html": ("indexed", "")},
    ),
    Case(
        # UTF-7, a charset a page may declare, decodes "+2AA-" to a lone surrogate.
        "page-decoding-to-a-lone-surrogate",
        write(
            "utf7.html",
            page("Guarda", head='<meta charset="utf-7">').replace("tram line", "tram +2AA-", 1),
        ),
        {"utf7.html": ("indexed", "")},
        check=a_replacement_character,
    ),
    Case(
        "jsonl-record-with-a-lone-surrogate",
        write_jsonl("records.jsonl", [lone_surrogate_record(), record("Evora")]),
        {
            "records.jsonl#L1": ("rejected", "record text is not valid Unicode"),
            "records.jsonl#L2": ("indexed", ""),
        },
    ),
    Case(
        "jsonl-file-over-the-limit",
        write_jsonl(
            "big.jsonl",
            [
                record("Evora"),
                json.dumps({"url": "https://news.example/x", "text": story("Big") * 60}),
                record("Elvas"),
            ],
        ),
        {
            "big.jsonl#L1": ("indexed", ""),
            "big.jsonl#L2": ("rejected", "record too large: "),
            "big.jsonl#L3": ("indexed", ""),
        },
        max_bytes=20_000,  # the file is larger, each good record smaller
    ),
    Case(
        "jsonl-record-nested-too-deep",
        write_jsonl("deep.jsonl", [deep_json(20_000), record("Evora")]),
        {
            "deep.jsonl#L1": ("rejected", "invalid JSON on line 1: nested too deep"),
            "deep.jsonl#L2": ("indexed", ""),
        },
    ),
    Case(
        # Found by tests/fuzz/fuzz_sources.py: such a file had no outcome at all.
        "jsonl-of-blank-lines-only",
        write("blank.jsonl", "\n \n\n"),
        {"blank.jsonl": ("rejected", "empty file")},
    ),
    Case(
        "file-name-not-utf8",
        bad_name,
        {SAFE_BAD_NAME: ("indexed", "")},
        check=safe_key_and_unchanged_next_time,
    ),
    Case(
        "missing-path",
        lambda folder: [str(folder.parent / "missing.html")],
        {"missing.html": ("rejected", "no such file or directory")},
    ),
    Case("named-pipe", fifo, {"pipe.html": ("rejected", "not a regular file")}),
    Case(
        "url-that-cannot-be-parsed",
        lambda folder: ["http://[oops/"],
        {"[oops": ("rejected", "invalid URL: Invalid IPv6 URL")},
    ),
    Case(
        "unreadable-file",
        unreadable,
        {"secret.txt": ("rejected", "cannot read file: Permission denied")},
        skip="running as root: chmod 000 does not stop root from reading"
        if os.geteuid() == 0
        else "",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_hostile_input_gets_its_one_outcome_and_the_rest_is_indexed(
    case: Case, folder: Path, tmp_path: Path
) -> None:
    if case.skip:
        pytest.skip(case.skip)
    settings = Settings(index=str(tmp_path / "index.db"), workers=1, max_input_bytes=case.max_bytes)
    named = case.make(folder)
    report = ingest([str(folder), *named], settings)
    assert report.status == "ok"
    got = by_name(report)
    assert got.pop("porto.txt") == got.pop("braga.txt") == ("indexed", "")
    assert set(got) == set(case.expect)
    for name, (outcome, reason) in case.expect.items():
        assert got[name][0] == outcome, (name, got[name])
        assert reason in got[name][1], (name, got[name])
        assert bool(got[name][1]) == bool(reason), (name, got[name])
    assert len(report.outcomes) == len(case.expect) + 2  # exactly one outcome per input
    indexed = [o for o in report.outcomes if o.outcome.value == "indexed"]
    assert sorted(d["id"] for d in documents(settings)) == sorted(str(o.doc_id) for o in indexed)
    case.check(settings, report)


# --- beyond one file -------------------------------------------------------------------------


def test_a_file_that_vanishes_after_listing_is_rejected_as_vanished(
    folder: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl.sources import discover

    def list_then_delete(*args: Any, **kwargs: Any) -> Any:
        found = discover(*args, **kwargs)
        (folder / "braga.txt").unlink(missing_ok=True)  # gone between listing and reading
        return found

    monkeypatch.setattr("etl.inputs.discover", list_then_delete)
    got = by_name(ingest([str(folder)], settings))
    assert got["porto.txt"] == ("indexed", "")
    assert got["braga.txt"] == ("rejected", "vanished: deleted after it was listed")


def _ingest_processes(index: Path, folders: list[Path]) -> list[dict[str, Any]]:
    env = {**os.environ, "ARTICLE_ETL_INDEX": str(index), "ARTICLE_ETL_WORKERS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "etl", "ingest", str(f), "--json"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for f in folders
    ]
    reports = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr.decode()
        reports.append(json.loads(stdout))
    return reports


def test_two_processes_can_ingest_into_one_index_at_once(tmp_path: Path) -> None:
    index = tmp_path / "shared.db"
    folders = []
    for n in range(2):
        folder = tmp_path / f"batch{n}"
        folder.mkdir()
        for i in range(3):
            (folder / f"a{i}.txt").write_text(story(f"Town{n}x{i}"), encoding="utf-8")
        folders.append(folder)
    _ingest_processes(index, folders)
    assert SqliteBackend(index).count() == 6
    assert len(Ledger(index).runs()) == 2


def test_two_ingests_of_one_folder_at_once_leave_one_document_per_file(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for i in range(6):
        (folder / f"a{i}.txt").write_text(story(f"Town{i}x"), encoding="utf-8")
    index = tmp_path / "shared.db"
    reports = _ingest_processes(index, [folder, folder])
    assert all(report["status"] == "ok" for report in reports)
    # Each file is claimed by one run at a time: processed (indexed) by exactly one of them;
    # the other run leaves it alone while it is claimed, or finds it unchanged afterwards.
    handled = [(o["source"], o["outcome"]) for r in reports for o in r["outcomes"]]
    indexed = sorted(source for source, outcome in handled if outcome == "indexed")
    assert indexed == sorted(str(p) for p in folder.iterdir())
    assert {outcome for _, outcome in handled} <= {"indexed", "unchanged"}
    settings = Settings(index=str(index))
    docs = documents(settings)
    assert sorted(d["source"] for d in docs) == sorted(str(p) for p in folder.iterdir())
    ledger = Ledger(index)
    states = ledger.states(str(p) for p in folder.iterdir())
    ledger.close()
    assert sorted(s.doc_id or "" for s in states.values()) == sorted(d["id"] for d in docs)
    assert all(s.outcome == "indexed" for s in states.values())
    again = ingest([str(folder)], settings)
    assert again.counts["unchanged"] == 6


def test_searching_while_an_ingest_runs_never_fails(folder: Path, settings: Settings) -> None:
    for i in range(12):
        (folder / f"more{i}.txt").write_text(story(f"Village{i}x"), encoding="utf-8")
    ingest([str(folder / "porto.txt")], settings)  # something to search from the start
    stop = threading.Event()
    failures: list[BaseException] = []
    totals: list[int] = []

    def keep_searching() -> None:
        index = SqliteBackend(settings.index)
        try:
            while not stop.is_set():
                result = index.search(SearchRequest(query="tram", facets=["location"]))
                totals.append(result.total)
        except BaseException as exc:
            failures.append(exc)
        finally:
            index.close()

    searcher = threading.Thread(target=keep_searching)
    searcher.start()
    try:
        report = ingest([str(folder)], settings)
    finally:
        stop.set()
        searcher.join(60)
    assert not searcher.is_alive()
    assert failures == []
    assert totals and totals == sorted(totals)  # never a document lost on the way
    assert report.status == "ok"
    assert report.counts["indexed"] == 13 and report.counts["unchanged"] == 1
    assert SqliteBackend(settings.index).search(SearchRequest(query="tram")).total == 14


def test_the_command_line_rejects_the_bad_input_and_indexes_the_rest(folder: Path) -> None:
    bad_name(folder)
    write_jsonl("records.jsonl", [lone_surrogate_record(), record("Evora")])(folder)
    jsonl = folder / "records.jsonl"
    env = {**os.environ, "ARTICLE_ETL_INDEX": str(folder.parent / "cli.db")}
    env["ARTICLE_ETL_WORKERS"] = "1"
    for attempt in ("first", "second"):
        proc = subprocess.run(
            [sys.executable, "-m", "etl", "ingest", str(folder), "--json"],
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")  # README: 0 is ok
        report = json.loads(proc.stdout)
        got = {o["source"]: o for o in report["outcomes"]}
        assert len(got) == 5, attempt
        assert got[f"{jsonl}#L1"]["outcome"] == "rejected"
        assert "not valid Unicode" in got[f"{jsonl}#L1"]["reason"]
        expected = "indexed" if attempt == "first" else "unchanged"
        for name in ("porto.txt", "braga.txt", SAFE_BAD_NAME, "records.jsonl#L2"):
            assert got[str(folder / name)]["outcome"] == expected, (attempt, name)
