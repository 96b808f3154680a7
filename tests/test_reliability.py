"""Issue 12, "nothing lost, nothing stuck": one input never stops a run, every input ends in
exactly one outcome, workers die with their parent, killed runs are marked interrupted.

Hostile inputs (bad files, bad names, bad records) are replayed in tests/test_fault_matrix.py;
kills at every step of a batch, in tests/test_crash_consistency.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from etl.backends.base import SearchRequest
from etl.backends.sqlite.backend import SqliteBackend
from etl.ledger import Ledger
from etl.outcomes import RunReport
from etl.pipeline import ingest
from etl.settings import Settings
from tests.test_pipeline import ARTICLE


def story(place: str) -> str:
    return f"{place} approves tram line\n" + ARTICLE.replace("Porto", place)


def by_name(report: RunReport) -> dict[str, tuple[str, str]]:
    return {Path(o.source).name: (o.outcome.value, o.reason) for o in report.outcomes}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    (src / "porto.txt").write_text(story("Porto"), encoding="utf-8")
    (src / "braga.txt").write_text(story("Braga"), encoding="utf-8")
    return src


# --- 1. one input never stops a run (hostile inputs: tests/test_fault_matrix.py) --------------


# Each step that touches one input, made to fail for one input (the file "bad.txt") in a way
# nobody foresaw. That input must be rejected with a reason; the others indexed; the run ok.
def _fail_for_bad(real: Callable[..., Any], keys: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if any("bad.txt" in str(k) for k in keys(*args, **kwargs)):
            raise RuntimeError("surprise")
        return real(*args, **kwargs)

    return wrapper


def _patch_discover(mp: pytest.MonkeyPatch) -> None:
    from etl.sources import discover

    mp.setattr("etl.inputs.discover", _fail_for_bad(discover, lambda p, *a: p))


def _patch_read(mp: pytest.MonkeyPatch) -> None:
    import etl.sources

    mp.setattr(etl.sources, "read_file", _fail_for_bad(etl.sources.read_file, lambda p, *a: [p]))
    # the run's inputs may hold their own reference
    import etl.inputs

    if hasattr(etl.inputs, "read_file"):
        mp.setattr(etl.inputs, "read_file", etl.sources.read_file)


def _patch_lookup(mp: pytest.MonkeyPatch) -> None:
    real = Ledger.states

    def states(self: Ledger, sources: Any) -> Any:
        keys = list(sources)
        if any("bad.txt" in k for k in keys):
            raise RuntimeError("surprise")
        return real(self, keys)

    mp.setattr(Ledger, "states", states)


def _patch_hash(mp: pytest.MonkeyPatch) -> None:
    import etl.sources

    real = etl.sources.RawInput.raw_hash

    def raw_hash(self: Any) -> str:
        if "bad.txt" in self.key:
            raise MemoryError("surprise")
        return real.fget(self)  # type: ignore[no-any-return,attr-defined]

    mp.setattr(etl.sources.RawInput, "raw_hash", property(raw_hash))


def _patch_duplicate_check(mp: pytest.MonkeyPatch) -> None:
    real = Ledger.content_holders
    mp.setattr(
        Ledger,
        "content_holders",
        _fail_for_bad(real, lambda s, articles: [a.source for a in articles]),
    )


def _patch_record(mp: pytest.MonkeyPatch) -> None:
    real = Ledger.record
    mp.setattr(Ledger, "record", _fail_for_bad(real, lambda s, r, outcomes, *a: outcomes))


def _patch_index(mp: pytest.MonkeyPatch) -> None:
    real = SqliteBackend.upsert

    def upsert(self: Any, articles: Any) -> Any:
        if any("bad.txt" in a.source for a in articles):
            raise ValueError("surprise")
        return real(self, articles)

    mp.setattr(SqliteBackend, "upsert", upsert)


@pytest.mark.parametrize(
    "patch",
    [
        _patch_discover,
        _patch_read,
        _patch_lookup,
        _patch_hash,
        _patch_duplicate_check,
        _patch_record,
        _patch_index,
    ],
    ids=lambda f: f.__name__.removeprefix("_patch_"),
)
def test_a_surprise_in_any_step_rejects_only_that_input(
    patch: Callable[[pytest.MonkeyPatch], None],
    folder: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = folder.parent / "bad.txt"  # named on its own, outside the folder
    bad.write_text(story("Aveiro"), encoding="utf-8")
    patch(monkeypatch)
    report = ingest([str(folder), str(bad)], settings)
    assert report.status == "ok"
    got = by_name(report)
    assert got["porto.txt"] == got["braga.txt"] == ("indexed", "")
    assert got["bad.txt"][0] == "rejected"
    assert "surprise" in got["bad.txt"][1]
    assert len(report.outcomes) == 3  # exactly one outcome each


# --- 2. workers die with their parent; 3. killed runs are marked interrupted --------------------


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a process, from /proc; None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    return int(fields[1]), fields[0].decode(), int(fields[19])


def _descendants(root: int) -> set[tuple[int, int]]:
    """(pid, start time) of every live descendant of ``root``."""
    children: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append((int(entry.name), stat[2]))
    found: set[tuple[int, int]] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child[0])
    return found


def _alive(process: tuple[int, int]) -> bool:
    stat = _stat(process[0])
    return stat is not None and stat[2] == process[1] and stat[1] not in ("Z", "X")


def _wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    pytest.fail(f"gave up after {timeout:g}s waiting for {what}")


@pytest.fixture
def many_files(tmp_path: Path) -> Path:
    """Enough articles that a run with two workers is still busy seconds after it started."""
    src = tmp_path / "many"
    src.mkdir()
    for i in range(400):
        (src / f"a{i:03}.txt").write_text(story(f"Town{i}x") * 3, encoding="utf-8")
    return src


# Started as a script so that a thread runs before the pool starts: the workers then come
# from a fork server (as under Airflow), not from fork().
_WITH_A_THREAD = (
    "import sys, threading, time\n"
    "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
    "from etl.cli.app import main\n"
    "sys.argv = ['article-etl', *sys.argv[1:]]\n"
    "main()\n"
)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_workers_die_when_the_ingest_process_is_killed(
    start: str, many_files: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "ARTICLE_ETL_INDEX": str(tmp_path / "kill.db")}
    args = ["ingest", str(many_files), "--workers", "2", "--json"]
    command = [sys.executable, "-m", "etl", *args]
    if start == "forkserver":
        command = [sys.executable, "-c", _WITH_A_THREAD, *args]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:

        def two_workers() -> set[tuple[int, int]] | None:
            found = _descendants(proc.pid)
            return found if len(found) >= 2 else None

        workers = _wait_for(two_workers, 120, "two worker processes")
        # Let the workers get going (load the model, take work): still before the run ends.
        time.sleep(2)
        assert proc.poll() is None, "the run ended before it could be killed; use more files"
        workers |= _descendants(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    _wait_for(
        lambda: not any(_alive(w) for w in workers),
        20,
        f"the workers {sorted(w[0] for w in workers if _alive(w))} of a killed run to end",
    )


def _runs(index: Path) -> list[tuple[str, str]]:
    """(run id, status) of every run, oldest first, read without writing anything."""
    import sqlite3

    if not index.exists():
        return []
    conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT run_id, status FROM ledger_runs ORDER BY rowid").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []
    finally:
        conn.close()
    return [(str(r[0]), str(r[1])) for r in rows]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_killed_run_is_marked_interrupted_by_the_next_run(
    many_files: Path, folder: Path, tmp_path: Path
) -> None:
    index = tmp_path / "killed.db"
    env = {**os.environ, "ARTICLE_ETL_INDEX": str(index), "ARTICLE_ETL_WORKERS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "etl", "ingest", str(many_files), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ((killed, status),) = _wait_for(lambda: _runs(index), 120, "the run to be recorded")
        assert status == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert _runs(index) == [(killed, "running")]  # nobody could say otherwise yet

    def cli(*args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "etl", *args, "--json"],
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        return json.loads(done.stdout)

    again = cli("ingest", str(folder))
    assert again["status"] == "ok"
    runs = {r["run_id"]: r for r in cli("status")["runs"]}
    assert runs[killed]["status"] == "interrupted"
    assert "ended without finishing" in runs[killed]["message"]
    assert runs[again["run_id"]]["status"] == "ok"
    assert _runs(index) == [(killed, "interrupted"), (again["run_id"], "ok")]


def test_a_text_longer_than_the_model_takes_is_indexed_with_entities_from_every_part(
    folder: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl.enrich import load_nlp

    nlp = load_nlp(settings.spacy_model)
    monkeypatch.setattr(nlp, "max_length", 3000)  # spaCy refuses longer texts (error E088)
    filler = "\n\n".join(ARTICLE for _ in range(30))
    late = "\n\nIn the end the harbour master Maria Okafor spoke in Lagos about the ferry.\n"
    (folder / "long.txt").write_text("Porto tram: the long read\n" + filler + late, "utf-8")
    assert len((folder / "long.txt").read_text("utf-8")) > 3 * 3000

    got = by_name(ingest([str(folder)], settings))
    assert got["long.txt"] == ("indexed", "")
    index = SqliteBackend(settings.index)
    (hit,) = index.search(SearchRequest(query='"the long read"')).hits
    doc = index.get(hit.id) or {}
    index.close()
    assert "ner_chunked" in doc["warning"]
    names = {e["name"] for e in doc["entities"]}
    assert "Ana Ribeiro" in names  # from the first part
    assert "Maria Okafor" in names  # from the last


def test_an_input_that_kills_its_worker_is_rejected_alone(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parser crash or the OOM killer ends a worker process, which breaks the whole pool:
    the batches in flight run again input by input, and only the killer is rejected."""
    import etl.process
    from etl.extract import extract as real

    def extract(raw: Any, **kwargs: Any) -> Any:
        if raw.key.endswith("crash.txt"):
            os.kill(os.getpid(), signal.SIGKILL)  # in the worker: as the OOM killer would
        return real(raw, **kwargs)

    # Forked workers inherit the patched function (a fork server would import afresh).
    monkeypatch.setattr(etl.process, "_start_method", lambda: "fork")
    monkeypatch.setattr(etl.process, "extract", extract)
    for i in range(6):
        (folder / f"more{i}.txt").write_text(story(f"Village{i}x"), encoding="utf-8")
    (folder / "crash.txt").write_text(story("Sintra"), encoding="utf-8")
    settings = Settings(index=str(tmp_path / "crash.db"), workers=2)
    report = ingest([str(folder)], settings)
    assert report.status == "ok"
    got = by_name(report)
    assert got.pop("crash.txt") == ("rejected", etl.process.WORKER_DIED)
    assert set(got.values()) == {("indexed", "")}
    assert len(got) == 8
