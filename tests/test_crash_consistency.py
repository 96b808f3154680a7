"""Issue 12, item 3: the index and the ledger cannot disagree after a crash at any point.

An ingest is killed (SIGKILL, by itself, through a hook this test installs in a subprocess)
at each step boundary of a batch: after extraction, before and after the index write, after
stale documents are deleted, after the ledger write, before the run is closed. The files are
then changed again (or put back as they were) and ingested once more. After that re-run:

* ``article-etl status`` shows no run stuck as running (the killed one is ``interrupted``);
* no process of the killed run is left (its worker processes died with it);
* the index holds exactly one document per indexed input, the one the ledger names, with the
  input's current text: no old version is left searchable beside the new one.

The same for the embedded index and for Elasticsearch (the real node of ``es_url()``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from etl.backends import open_backend
from etl.ledger import Ledger
from etl.settings import Settings
from tests.paths import ROOT

# Run in a subprocess: wraps one function so that its n-th call kills the process (SIGKILL,
# as ``kill -9`` or the OOM killer would) before or after the real call, then runs the CLI.
_KILLER = r"""
import importlib, os, signal, sys
target, when, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
module_name, _, attr = target.partition(":")
owner_name, _, name = attr.rpartition(".")
module = importlib.import_module(module_name)
owner = getattr(module, owner_name) if owner_name else module
real = getattr(owner, name)
calls = [0]

def hooked(*args, **kwargs):
    calls[0] += 1
    if calls[0] == nth and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    result = real(*args, **kwargs)
    if calls[0] == nth and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return result

setattr(owner, name, hooked)
from etl.cli.app import main
sys.argv = ["article-etl", *sys.argv[4:]]
main()
"""


@dataclass(frozen=True)
class KillPoint:
    name: str
    target: str  # module:function or module:Class.method ({backend}: the backend's class)
    when: str  # before or after the call
    nth: int = 1


KILL_POINTS = [
    # Both batches extracted by the workers, nothing of the first written yet.
    KillPoint("processed", "etl.pipeline:Run.settle", "before"),
    KillPoint("before_index", "{backend}.upsert", "before"),
    KillPoint("after_index", "{backend}.upsert", "after"),
    KillPoint("after_delete", "{backend}.delete", "after"),
    # The first call records the unchanged inputs; the second, the first processed batch.
    KillPoint("after_record", "etl.ledger:Ledger.record", "after", nth=2),
    KillPoint("second_batch_indexed", "{backend}.upsert", "after", nth=2),
    KillPoint("before_finish", "etl.ledger:Ledger.finish_run", "before"),
]
BACKEND_CLASS = {
    "sqlite": "etl.backends.sqlite.backend:SqliteBackend",
    "elasticsearch": "etl.backends.elasticsearch.backend:ElasticsearchBackend",
}

WORDS = ["harbour", "council", "budget", "ferry", "library", "school", "market", "bridge"]


def article(name: str, version: int) -> str:
    """A distinct text per file and version: no duplicates, and no canonical URL, so the
    document id follows the text (a changed file gets a new id)."""
    words = " ".join(WORDS[(len(name) + i * version) % len(WORDS)] for i in range(60))
    return (
        f"{name} report version {version}\n\n"
        f"The town of Exampleton published report {name} in its edition {version}x{name}. "
        f"{words}. Officials said the {name} plan would be reviewed again next year.\n"
    )


@dataclass
class Inbox:
    folder: Path
    versions: dict[str, int]

    def write(self, name: str, version: int) -> None:
        (self.folder / name).write_text(article(name, version), encoding="utf-8")
        self.versions[name] = version

    def sources(self) -> dict[str, int]:
        return {str(self.folder / name): v for name, v in self.versions.items()}


def make_inbox(tmp_path: Path) -> Inbox:
    folder = tmp_path / "inbox"
    folder.mkdir()
    inbox = Inbox(folder, {})
    for i in range(12):
        inbox.write(f"file{i:02d}.txt", 1)
    return inbox


def run_env(settings: Settings, mark: str, workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARTICLE_ETL_")}
    env.update(ARTICLE_ETL_INDEX=settings.index, ARTICLE_ETL_WORKERS=str(workers))
    env["CRASH_TEST_MARK"] = mark  # inherited by every process the run starts
    if settings.ledger:
        env["ARTICLE_ETL_LEDGER"] = settings.ledger
    if settings.uses_elasticsearch:
        env["ARTICLE_ETL_ES_ALIAS"] = settings.es_alias
    return env


def cli(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "etl", *args, "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def marked_processes(mark: str) -> list[int]:
    """Live processes (not zombies) whose environment carries ``mark``."""
    found = []
    needle = f"CRASH_TEST_MARK={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
        if needle in environ.split(b"\0") and state not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"gave up after {timeout:g}s waiting for {what}")


def documents(settings: Settings) -> list[dict[str, Any]]:
    if settings.uses_elasticsearch:
        from elasticsearch import Elasticsearch

        client = Elasticsearch(settings.index)
        try:
            client.indices.refresh(index=settings.es_alias)
        finally:
            client.close()
    backend = open_backend(settings)
    try:
        return list(backend.iter_documents())
    finally:
        backend.close()


def assert_one_document_per_input(settings: Settings, inbox: Inbox) -> None:
    sources = inbox.sources()
    docs = documents(settings)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_source.setdefault(doc["source"], []).append(doc)
    extra = {s: [d["title"] for d in ds] for s, ds in by_source.items() if len(ds) > 1}
    assert not extra, f"inputs with more than one document: {extra}"
    assert set(by_source) == set(sources)
    for source, version in sources.items():
        (doc,) = by_source[source]
        assert doc["title"] == f"{Path(source).name} report version {version}"
    ledger = Ledger(settings.ledger_location)
    try:
        states = ledger.states(sources)
    finally:
        ledger.close()
    assert {s: (st.outcome, st.doc_id) for s, st in states.items()} == {
        s: ("indexed", ds[0]["id"]) for s, ds in by_source.items()
    }


def crash_then_rerun(
    settings: Settings, inbox: Inbox, point: KillPoint, backend: str, after_kill: str
) -> None:
    """Index the inbox, change some files and add new ones, kill an ingest at ``point``, then
    change the files again (``after_kill``: ``change``; ``revert``: the changed files back to
    what the ledger last recorded; ``keep``), ingest again, and check everything."""
    from etl.pipeline import ingest

    mark = uuid.uuid4().hex
    env = run_env(settings, mark, workers=1)
    in_process = replace(settings, workers=1)  # the model loaded once for the whole session
    assert ingest([str(inbox.folder)], in_process).counts["indexed"] == 12

    # 8 changed, 4 unchanged, 2 new: 10 inputs to process, in two batches (of 8 and 2).
    touched = [f"file{i:02d}.txt" for i in range(8)] + ["new00.txt", "new01.txt"]
    before = dict(inbox.versions)
    for name in touched:
        inbox.write(name, 2)
    target = point.target.format(backend=BACKEND_CLASS[backend])
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            _KILLER,
            target,
            point.when,
            str(point.nth),
            "ingest",
            str(inbox.folder),
            "--workers",
            "2",
        ],
        env=run_env(settings, mark, workers=2),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -9, f"the run was not killed at {point.name}: {killed.stderr}"
    wait_for(lambda: not marked_processes(mark), 60, "the processes of the killed run to end")

    for name in touched:
        if after_kill == "change":
            inbox.write(name, 3)
        elif after_kill == "revert" and name in before:
            inbox.write(name, before[name])

    again = cli(env, "ingest", str(inbox.folder))
    assert again["status"] == "ok"
    assert again["counts"]["rejected"] == 0
    runs = cli(env, "status")["runs"]
    assert [r["status"] for r in runs if r["status"] == "running"] == []
    assert [r["status"] for r in runs].count("interrupted") == 1
    assert not marked_processes(mark)
    assert_one_document_per_input(settings, inbox)

    # And the run after is quiet: nothing left to do, nothing changes in the index.
    quiet = ingest([str(inbox.folder)], in_process)
    assert quiet.counts["unchanged"] == len(inbox.versions)
    assert_one_document_per_input(settings, inbox)


pytestmark = pytest.mark.skipif(
    not Path("/proc/self/environ").exists(), reason="needs Linux /proc to find the processes"
)


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS, ids=lambda p: p.name)
def test_embedded_index_and_ledger_agree_after_a_kill(point: KillPoint, tmp_path: Path) -> None:
    settings = Settings(index=str(tmp_path / "index.db"))
    crash_then_rerun(settings, make_inbox(tmp_path), point, "sqlite", "change")


@pytest.mark.slow
@pytest.mark.parametrize("after_kill", ["keep", "revert"])
@pytest.mark.parametrize(
    "point",
    [p for p in KILL_POINTS if p.name in ("after_index", "after_delete")],
    ids=lambda p: p.name,
)
def test_embedded_index_converges_when_the_files_stay_or_go_back(
    point: KillPoint, after_kill: str, tmp_path: Path
) -> None:
    """Re-run over the same files, or over files put back as the ledger last saw them (so that
    they look unchanged although the killed run had indexed their new version)."""
    settings = Settings(index=str(tmp_path / "index.db"))
    crash_then_rerun(settings, make_inbox(tmp_path), point, "sqlite", after_kill)


@contextmanager
def live_es_settings(tmp_path: Path) -> Iterator[Settings]:
    from etl.backends.elasticsearch import admin as es_admin
    from tests.es_live import es_url, live_settings

    with live_settings(es_url(), tmp_path / "ledger.db") as settings:
        es_admin.setup(settings)
        yield settings


@pytest.mark.live_es
@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS, ids=lambda p: p.name)
def test_elasticsearch_and_ledger_agree_after_a_kill(point: KillPoint, tmp_path: Path) -> None:
    with live_es_settings(tmp_path) as settings:
        crash_then_rerun(settings, make_inbox(tmp_path), point, "elasticsearch", "change")


@pytest.mark.live_es
@pytest.mark.slow
def test_elasticsearch_converges_when_the_files_go_back(tmp_path: Path) -> None:
    (point,) = [p for p in KILL_POINTS if p.name == "after_index"]
    with live_es_settings(tmp_path) as settings:
        crash_then_rerun(settings, make_inbox(tmp_path), point, "elasticsearch", "revert")


# --- the same guarantees, in process (fast) -------------------------------------------------


def sources_in_index(settings: Settings) -> dict[str, list[str]]:
    """source -> titles of its documents in the index."""
    found: dict[str, list[str]] = {}
    for doc in documents(settings):
        found.setdefault(doc["source"], []).append(doc["title"])
    return found


def test_a_run_that_failed_after_the_index_took_a_write_is_settled_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index stores the batch but the run never hears back (a connection reset after the
    write): the run fails, nothing of the batch recorded. The file is then put back as it was
    when last recorded, so its bytes look unchanged: the Airflow listing still offers it, and
    the next run replaces the version the failed run left in the index."""
    from etl.backends.base import TransientIndexError
    from etl.backends.sqlite.backend import SqliteBackend
    from etl.inputs import changed_files
    from etl.pipeline import ingest

    settings = Settings(index=str(tmp_path / "index.db"), workers=1)
    inbox = make_inbox(tmp_path)
    assert ingest([str(inbox.folder)], settings).counts["indexed"] == 12
    inbox.write("file00.txt", 2)
    real = SqliteBackend.upsert

    def write_then_lose_the_answer(self: SqliteBackend, articles: Any) -> Any:
        real(self, articles)
        raise TransientIndexError("connection reset by peer")

    with monkeypatch.context() as patch:
        patch.setattr(SqliteBackend, "upsert", write_then_lose_the_answer)
        with pytest.raises(TransientIndexError):
            ingest([str(inbox.folder)], settings)
    assert len(sources_in_index(settings)[str(inbox.folder / "file00.txt")]) == 2

    inbox.write("file00.txt", 1)  # back to the bytes the ledger recorded
    assert changed_files([str(inbox.folder)], settings) == [str(inbox.folder / "file00.txt")]
    report = ingest([str(inbox.folder)], settings)
    assert report.status == "ok"
    assert report.counts["indexed"] == 1 and report.counts["unchanged"] == 11
    assert_one_document_per_input(settings, inbox)
    assert changed_files([str(inbox.folder)], settings) == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda p: p.write_bytes(b""), id="now-empty"),
        pytest.param(lambda p: p.write_bytes(b"\x00\x01\x02binary" * 100), id="now-binary"),
    ],
)
def test_an_input_rejected_after_it_was_indexed_loses_its_document(
    change: Callable[[Path], Any], tmp_path: Path
) -> None:
    """The ledger records it as rejected; the index must not keep its old version for good
    (nothing would ever name it again)."""
    from etl.pipeline import ingest

    settings = Settings(index=str(tmp_path / "index.db"), workers=1)
    inbox = make_inbox(tmp_path)
    ingest([str(inbox.folder)], settings)
    change(inbox.folder / "file03.txt")
    report = ingest([str(inbox.folder)], settings)
    got = {Path(o.source).name: o.outcome.value for o in report.outcomes}
    assert got["file03.txt"] == "rejected"
    in_index = sources_in_index(settings)
    assert str(inbox.folder / "file03.txt") not in in_index
    assert len(in_index) == 11
