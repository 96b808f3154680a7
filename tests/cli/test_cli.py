"""The ``article-etl`` command as a user drives it: output, JSON for scripts, exit codes.

One small folder (three articles) is ingested once for the whole module; the read-only
commands all query that index."""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from etl.cli.app import app
from etl.settings import Settings
from tests.paths import EXAMPLES, ROOT, SEED_DIR

HARBOR = "harbor-ledger-rotterdam-port-strike.html"
KOELN = "rheinblick-rundschau-koeln-stadtbahn-porz.html"
AZORES = "azores-seafloor-cable-sensing.txt"
COMMANDS = ["ingest", "search", "show", "extract", "export", "status", "stats"]

runner = CliRunner()


def _env(index: Path) -> dict[str, str | None]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ARTICLE_ETL_")}
    env.update({"ARTICLE_ETL_INDEX": str(index), "ARTICLE_ETL_WORKERS": "1"})
    return env


def _run(args: list[str], index: Path, stdin: str | bytes | None = None) -> Result:
    return runner.invoke(app, args, env=_env(index), input=stdin, catch_exceptions=False)


def _run_wide(args: list[str], index: Path, columns: int = 200) -> Result:
    env = {**_env(index), "COLUMNS": str(columns)}
    return runner.invoke(app, args, env=env, catch_exceptions=False)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _one_error_line(result: Result) -> str:
    """What a user sees when a command fails: exactly one line on stderr, no traceback."""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


class Ingested:
    def __init__(self, folder: Path, index: Path, empty: Path) -> None:
        self.folder = folder
        self.index = index
        self.empty = empty
        self.first: dict[str, Any] = {}
        self.second: dict[str, Any] = {}

    def doc_id(self, name: str) -> str:
        (outcome,) = [o for o in self.first["outcomes"] if o["source"].endswith(name)]
        return str(outcome["doc_id"])

    def run(self, *args: str, stdin: str | bytes | None = None) -> Result:
        return _run([*args], self.index, stdin)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    base = tmp_path_factory.mktemp("cli")
    folder = base / "articles"
    folder.mkdir()
    for name in (HARBOR, KOELN, AZORES):
        shutil.copy(EXAMPLES / name, folder / name)
    (folder / "notes.csv").write_text("not,an,article\n")  # not an article suffix: skipped
    state = Ingested(folder, base / "index.db", base / "empty.txt")
    state.empty.write_bytes(b"")  # named on the first run only: rejected, and that is all
    state.first = _json(_run(["ingest", str(folder), str(state.empty), "--json"], state.index))
    state.second = _json(_run(["ingest", str(folder), "--json"], state.index))
    return state


# --- ingest ----------------------------------------------------------------------------------


def test_ingest_json_reports_counts_and_each_input(ingested: Ingested) -> None:
    report = ingested.first
    assert report["status"] == "ok"
    assert report["counts"] == {"indexed": 3, "unchanged": 0, "duplicate": 0, "rejected": 1}
    by_source = {Path(o["source"]).name: o for o in report["outcomes"]}
    assert set(by_source) == {HARBOR, KOELN, AZORES, "empty.txt"}
    harbor = by_source[HARBOR]
    assert harbor["outcome"] == "indexed"
    assert (
        harbor["title"] == "Rotterdam dockworkers walk out as talks over automated cranes collapse"
    )
    assert harbor["doc_id"]
    assert by_source[KOELN]["title"] == "Stadtrat beschließt Verlängerung der Linie 13 bis Porz"


def test_ingest_of_an_empty_file_rejects_that_input(ingested: Ingested) -> None:
    (empty,) = [o for o in ingested.first["outcomes"] if o["outcome"] == "rejected"]
    assert empty["source"] == str(ingested.empty)
    assert empty["reason"] == "empty file"


def test_ingest_of_a_missing_path_is_bad_usage_and_ingests_nothing(tmp_path: Path) -> None:
    """A typo in a path is caught before anything runs: exit 2, the path named, no index."""
    real = tmp_path / "real.txt"
    real.write_text("A real article. " * 20)
    missing = tmp_path / "typo.html"
    index = tmp_path / "index.db"
    result = _run(["ingest", str(real), str(missing), "--json"], index)
    assert result.exit_code == 2
    assert _one_error_line(result) == f"error: no such file or directory: {missing}"
    assert result.stdout == ""
    assert not index.exists()


def test_second_ingest_finds_everything_unchanged(ingested: Ingested) -> None:
    report = ingested.second
    assert report["counts"] == {"indexed": 0, "unchanged": 3, "duplicate": 0, "rejected": 0}
    assert {o["outcome"] for o in report["outcomes"]} == {"unchanged"}
    assert {o["doc_id"] for o in report["outcomes"]} == {
        ingested.doc_id(n) for n in (HARBOR, KOELN, AZORES)
    }
    assert report["run_id"] != ingested.first["run_id"]


def test_ingest_without_inputs_is_bad_usage(tmp_path: Path) -> None:
    result = _run(["ingest"], tmp_path / "index.db")
    assert result.exit_code == 2
    assert "nothing to ingest" in result.stderr


def test_ingest_table_output(tmp_path: Path) -> None:
    """Without --json: a human summary, rejected inputs with their reason."""
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    result = _run(["ingest", str(empty)], tmp_path / "index.db")
    assert result.exit_code == 0, result.output
    assert "rejected: 1" in result.stdout
    assert "empty file" in result.stdout


# --- search ----------------------------------------------------------------------------------


def test_search_returns_hits_with_ids(ingested: Ingested) -> None:
    data = _json(ingested.run("search", "dockworkers", "--json"))
    assert data["total"] == 1
    (hit,) = data["hits"]
    assert hit["id"] == ingested.doc_id(HARBOR)
    assert hit["title"].startswith("Rotterdam dockworkers walk out")
    assert hit["site"] == "The Harbor Ledger"
    assert hit["published"] == "2024-11-07T09:42:00+01:00"  # as the page states it, with its zone
    assert "<mark>" in hit["snippet"]


def test_search_without_query_returns_everything(ingested: Ingested) -> None:
    data = _json(ingested.run("search", "--json"))
    assert data["total"] == 3
    assert {h["id"] for h in data["hits"]} == {ingested.doc_id(n) for n in (HARBOR, KOELN, AZORES)}


def test_search_nothing_matches(ingested: Ingested) -> None:
    data = _json(ingested.run("search", "xylophonist", "--json"))
    assert data == {"total": 0, "hits": [], "facets": {}, "histogram": []}


def test_search_person_facet_counts(ingested: Ingested) -> None:
    data = _json(ingested.run("search", "--facet", "person", "--facet", "language", "--json"))
    people = {f["value"]: f["count"] for f in data["facets"]["person"]}
    assert people.get("Sofia Lindqvist") == 1
    assert people.get("Henrik Maalouf") == 1
    assert all(count >= 1 for count in people.values())
    languages = {f["value"]: f["count"] for f in data["facets"]["language"]}
    assert languages == {"en": 2, "de": 1}


def test_search_facets_follow_the_query(ingested: Ingested) -> None:
    data = _json(ingested.run("search", "Stadtbahn", "--facet", "language", "--json"))
    assert {f["value"]: f["count"] for f in data["facets"]["language"]} == {"de": 1}


def test_search_filter_language(ingested: Ingested) -> None:
    english = _json(ingested.run("search", "--filter", "language=en", "--json"))
    assert english["total"] == 2
    assert {h["language"] for h in english["hits"]} == {"en"}
    german = _json(ingested.run("search", "--filter", "language=de", "--json"))
    assert [h["id"] for h in german["hits"]] == [ingested.doc_id(KOELN)]
    both = _json(
        ingested.run("search", "--filter", "language=de", "--filter", "language=en", "--json")
    )
    assert both["total"] == 3


def test_search_date_range(ingested: Ingested) -> None:
    older = _json(ingested.run("search", "--to", "2024-12-31", "--json"))
    assert [h["id"] for h in older["hits"]] == [ingested.doc_id(HARBOR)]
    window = _json(ingested.run("search", "--from", "2024-11-07", "--to", "2026-01-19", "--json"))
    assert {h["id"] for h in window["hits"]} == {ingested.doc_id(HARBOR), ingested.doc_id(KOELN)}
    newer = _json(ingested.run("search", "--from", "2025-01-01", "--json"))
    assert ingested.doc_id(HARBOR) not in {h["id"] for h in newer["hits"]}
    assert ingested.doc_id(KOELN) in {h["id"] for h in newer["hits"]}


def test_search_human_output(ingested: Ingested) -> None:
    result = ingested.run("search", "dockworkers", "--facet", "site")
    assert result.exit_code == 0, result.output
    assert "1 matching article(s)" in result.stdout
    assert "Rotterdam dockworkers walk out" in result.stdout
    assert "facet: site" in result.stdout


def test_search_with_no_index_fails_clearly(tmp_path: Path) -> None:
    index = tmp_path / "nothing-here.db"
    result = _run(["search", "port"], index)
    assert result.exit_code == 1
    assert "no index at" in result.stderr
    assert "article-etl ingest" in result.stderr
    assert not index.exists()  # looking must not create an empty index


def test_search_bad_filter_is_bad_usage(ingested: Ingested) -> None:
    result = ingested.run("search", "port", "--filter", "nonsense")
    assert result.exit_code == 2
    assert "field=value" in result.stderr


def test_search_unknown_facet_lists_the_facets(ingested: Ingested) -> None:
    result = ingested.run("search", "port", "--facet", "colour")
    assert result.exit_code == 2
    assert "unknown facet 'colour'" in result.stderr
    for facet in ("person", "language", "site"):
        assert facet in result.stderr
    result = ingested.run("search", "--filter", "colour=red")
    assert result.exit_code == 2
    assert "unknown facet" in result.stderr


# --- show ------------------------------------------------------------------------------------


def test_show_json_is_the_whole_record(ingested: Ingested) -> None:
    doc = _json(ingested.run("show", ingested.doc_id(HARBOR), "--json"))
    assert doc["id"] == ingested.doc_id(HARBOR)
    assert doc["title"].startswith("Rotterdam dockworkers")
    assert doc["author"] == ["Daniel Ferreira"]
    assert doc["published"] == "2024-11-07T09:42:00+01:00"
    assert doc["published_source"] == "structured_data"
    assert doc["published_confidence"] == "high"
    assert "More than 2,400 dockworkers" in doc["text"]
    assert doc["source"].endswith(HARBOR)
    names = {e["name"]: e for e in doc["entities"]}
    assert names["Sofia Lindqvist"]["type"] == "person"
    assert all({"name", "type", "count", "aliases"} <= set(e) for e in doc["entities"])
    assert doc["date_mentions"], "the article mentions dates (March 3, 2025; 2027...)"
    assert all({"text", "value", "resolved", "granularity"} <= set(m) for m in doc["date_mentions"])
    assert doc["word_count"] > 300


def test_show_human_output(ingested: Ingested) -> None:
    result = ingested.run("show", ingested.doc_id(AZORES))
    assert result.exit_code == 0, result.output
    assert "Seafloor cable turns Azores ocean" in result.stdout
    # The text states no date: undated, never the file's time as the publication date
    assert re.search(r"published\s+undated", result.stdout), result.stdout


def test_show_prints_readable_text_not_python_values(ingested: Ingested) -> None:
    result = _run_wide(["show", ingested.doc_id(HARBOR)], ingested.index)
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[0] == "Rotterdam dockworkers walk out as talks over automated cranes collapse"
    assert "author Daniel Ferreira" in lines
    assert "published 2024-11-07T09:42:00+01:00 (from structured_data, high confidence)" in lines
    assert any(line.startswith("url https://harborledger.example/") for line in lines)
    (people,) = [line for line in lines if line.startswith("people ")]
    assert re.search(r"\bSofia Lindqvist \(\d+\)", people), people
    assert any(line.startswith("dates ") for line in lines)
    assert "March 3, 2025 → 2025-03-03" in " ".join(lines)  # the dates row may wrap
    for python in ("['", "']", "{'", "None", "True", "False"):
        assert python not in result.stdout


def test_show_unknown_id(ingested: Ingested) -> None:
    result = ingested.run("show", "0000000000")
    assert result.exit_code == 1
    assert "no document with id '0000000000'" in result.stderr


# --- extract ---------------------------------------------------------------------------------


def test_extract_file_prints_clean_text(tmp_path: Path) -> None:
    result = _run(["extract", str(EXAMPLES / HARBOR)], tmp_path / "index.db")
    assert result.exit_code == 0, result.output
    assert "More than 2,400 dockworkers at the Port of Rotterdam" in result.stdout
    assert "Mariner_88" not in result.stdout
    assert "We use cookies" not in result.stdout
    assert "<p>" not in result.stdout
    assert not (tmp_path / "index.db").exists()  # extract never touches the index


def test_extract_json_has_metadata_without_enrichment(tmp_path: Path) -> None:
    data = _json(_run(["extract", str(EXAMPLES / KOELN), "--json"], tmp_path / "index.db"))
    assert data["language"] == "de"
    assert data["published"] == "2026-01-19T06:00:00+01:00"
    assert "entities" not in data and "date_mentions" not in data


def test_extract_reads_stdin(tmp_path: Path) -> None:
    html = (EXAMPLES / "riverside-courier-bristol-library-reopens.html").read_bytes()
    result = _run(["extract", "-"], tmp_path / "index.db", stdin=html)
    assert result.exit_code == 0, result.output
    assert "Bristol Central Library reopened its doors on Saturday" in result.stdout
    assert "BristolBookworm" not in result.stdout
    text = "Corner café reopens\n\n" + "The café on the corner reopened on Monday. " * 10
    result = _run(["extract", "-"], tmp_path / "index.db", stdin=text.encode())
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("The café on the corner reopened on Monday.")


def test_extract_rejected_input_is_exit_2(tmp_path: Path) -> None:
    binary = tmp_path / "x.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    result = _run(["extract", str(binary)], tmp_path / "index.db")
    assert result.exit_code == 2
    assert "binary" in result.stderr
    result = _run(["extract", str(tmp_path / "missing.html")], tmp_path / "index.db")
    assert result.exit_code == 2
    assert "missing.html" in result.stderr


# --- status and stats ------------------------------------------------------------------------


def test_status_json_lists_runs(ingested: Ingested) -> None:
    data = _json(ingested.run("status", "--json"))
    runs = {r["run_id"]: r for r in data["runs"]}
    first, second = runs[ingested.first["run_id"]], runs[ingested.second["run_id"]]
    assert first["status"] == second["status"] == "ok"
    assert first["counts"]["indexed"] == 3 and first["counts"]["rejected"] == 1
    assert second["counts"]["unchanged"] == 3
    assert data["inputs_by_outcome"].get("rejected") == 1
    assert any(r["source"].endswith("empty.txt") for r in data["recent_rejections"])


def test_status_without_ledger(tmp_path: Path) -> None:
    index = tmp_path / "a-folder-with-a-long-name-so-that-the-message-is-wider-than-80" / "x.db"
    result = _run(["status"], index)
    assert result.exit_code == 1
    # one line, the path whole: an error in a log must be greppable and copyable
    assert result.stderr.strip() == f"error: no ledger at {index}: nothing has been ingested yet"


def test_stats_json(ingested: Ingested) -> None:
    data = _json(ingested.run("stats", "--json"))
    assert data["documents"] == 3
    assert data["facets"]["language"] == {"en": 2, "de": 1}
    assert data["facets"]["site"].get("The Harbor Ledger") == 1
    assert (
        data["facets"]["published_source"].get("structured_data") == 2
    )  # JSON-LD (harbor) and microdata (rheinblick)
    assert data["facets"]["warning"].get("no_date") == 1  # the .txt article states no date
    assert data["published_by_year"].get("2024") == 1
    # the undated article is counted under no year
    assert sum(data["published_by_year"].values()) == data["documents"] - 1


# --- help ------------------------------------------------------------------------------------


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = _run(["--help"], tmp_path / "index.db")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command(command: str, tmp_path: Path) -> None:
    result = _run([command, "--help"], tmp_path / "index.db")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


# --- the installed console script ------------------------------------------------------------


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("article-etl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "etl"]


def _subprocess(
    args: list[str], index: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARTICLE_ETL_")}
    env.update({"ARTICLE_ETL_INDEX": str(index), "ARTICLE_ETL_WORKERS": "1", "COLUMNS": "200"})
    return subprocess.run(
        [*_console_script(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin.decode() if stdin is not None else None,
    )


def test_console_script_exit_codes(tmp_path: Path, ingested: Ingested) -> None:
    ok = _subprocess(["--help"], tmp_path / "index.db")
    assert ok.returncode == 0 and "ingest" in ok.stdout

    no_index = _subprocess(["search", "port"], tmp_path / "index.db")
    assert no_index.returncode == 1
    assert "no index at" in no_index.stderr
    assert "Traceback" not in no_index.stderr

    bad_filter = _subprocess(["search", "--filter", "nonsense"], ingested.index)
    assert bad_filter.returncode == 2
    assert "Traceback" not in bad_filter.stderr

    bad_option = _subprocess(["search", "--no-such-option"], ingested.index)
    assert bad_option.returncode == 2

    found = _subprocess(["search", "Stadtrat", "--json"], ingested.index)
    assert found.returncode == 0, found.stderr
    assert [h["id"] for h in json.loads(found.stdout)["hits"]] == [ingested.doc_id(KOELN)]


def test_console_script_ingest_missing_path_is_not_a_crash(tmp_path: Path) -> None:
    result = _subprocess(["ingest", str(tmp_path / "missing.html"), "--json"], tmp_path / "i.db")
    assert result.returncode == 2
    assert result.stderr == f"error: no such file or directory: {tmp_path / 'missing.html'}\n"
    assert result.stdout == ""


# --- errors: one line on stderr, an exit code, never a traceback, never a password -----------


def _not_an_index(kind: str, folder: Path) -> Path:
    if kind == "text":
        path = folder / "notes.txt"
        path.write_text("just some notes\n")
    elif kind == "binary":
        path = folder / "random.bin"
        path.write_bytes(random.Random(7).randbytes(4096))
    elif kind == "corrupt":  # an SQLite header and then nothing that makes sense
        path = folder / "broken.db"
        path.write_bytes(b"SQLite format 3\x00" + random.Random(8).randbytes(4080))
    else:  # another program's database: we must not add our tables to it
        path = folder / "places.sqlite"
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE moz_places (url TEXT)")
        conn.commit()
        conn.close()
    return path


@pytest.mark.parametrize("kind", ["text", "binary", "corrupt", "foreign"])
@pytest.mark.parametrize(
    "command",
    [["stats"], ["search", "port"], ["show", "x"], ["export"], ["status"], ["ingest", "."]],
    ids=lambda c: c[0],
)
def test_an_index_that_is_not_one_is_refused_untouched(
    kind: str, command: list[str], tmp_path: Path
) -> None:
    target = _not_an_index(kind, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    args = [*command, "--index", str(target)]
    if command[0] == "ingest":
        args[1] = str(EXAMPLES / AZORES)
    result = _run(args, tmp_path / "unused.db")
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert line.startswith(f"error: {target} is ")
    assert "not an article-etl index" in line
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["search", "port", "--size", "100000000000000000000"], "'--size'"),
        (["search", "port", "--size", "-1"], "'--size'"),
        (["search", "port", "--facet-size", "0"], "'--facet-size'"),
        (["search", "port", "--from", "2025-13-01"], "--from '2025-13-01' is not a date"),
        (["search", "port", "--from", "yesterday"], "--from 'yesterday' is not a date"),
        (["search", "port", "--to", "2025-02-30"], "--to '2025-02-30' is not a date"),
        (["search", "--from", "2025", "--to", "2024-12"], "--from 2025 is after --to 2024-12"),
        (["search", "port", "--histogram", "week"], "--histogram takes year, month or day"),
        (["search", "port", "--filter", "colour=red"], "unknown facet 'colour'"),
        (["search", "--no-such-option"], "No such option: --no-such-option"),
        (["status", "--limit", "0"], "'--limit'"),
        (["show"], "Missing argument 'ID'"),
        (["ingest", ".", "--workers", "0"], "'--workers'"),
        (["ingest", "--url-list", "no-such-list.txt"], "'--url-list'"),
        (["export", "no-such-folder/backup.jsonl"], "no folder"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(ingested: Ingested, args: list[str], named: str) -> None:
    result = ingested.run(*args)
    assert result.exit_code == 2
    assert named in _one_error_line(result)


def test_dates_may_be_a_month_or_a_year(ingested: Ingested) -> None:
    """YYYY-MM and YYYY stand for the whole month or year (documented), on both ends."""
    november = _json(ingested.run("search", "--from", "2024-11", "--to", "2024-11", "--json"))
    assert [h["id"] for h in november["hits"]] == [ingested.doc_id(HARBOR)]
    year = _json(ingested.run("search", "--from", "2024", "--to", "2024", "--json"))
    assert [h["id"] for h in year["hits"]] == [ingested.doc_id(HARBOR)]


@pytest.mark.parametrize(
    "command",
    [["search", "port"], ["stats"], ["show", "x"], ["export"], ["status"], ["ingest", "."]],
    ids=lambda c: c[0],
)
def test_an_elasticsearch_url_with_a_bad_port_is_usage_without_the_password(
    command: list[str], tmp_path: Path
) -> None:
    result = _run([*command, "--index", "http://etl:s3cret-pw@localhost:abc"], tmp_path / "i.db")
    assert result.exit_code == 2
    assert _one_error_line(result) == (
        "error: --index http://localhost:abc: not a valid URL (port 'abc' is not a number)"
    )
    assert "s3cret" not in result.output and "etl:" not in result.output


def test_a_bad_index_url_from_the_environment_is_named_as_such(tmp_path: Path) -> None:
    env = {**_env(tmp_path / "i.db"), "ARTICLE_ETL_INDEX": "https://etl:s3cret@es:92x0"}
    result = runner.invoke(app, ["stats"], env=env, catch_exceptions=False)
    assert result.exit_code == 2
    assert _one_error_line(result) == (
        "error: ARTICLE_ETL_INDEX https://es:92x0: not a valid URL (port '92x0' is not a number)"
    )
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    "command", [["stats"], ["search", "port"], ["show", "x"], ["export"]], ids=lambda c: c[0]
)
def test_an_unreachable_index_is_one_line_and_exit_1(command: list[str], tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port = probe.getsockname()[1]
        env = {**_env(tmp_path / "i.db"), "ARTICLE_ETL_ES_MAX_RETRIES": "0"}
        url = f"http://etl:s3cret@127.0.0.1:{port}"
        result = runner.invoke(app, [*command, "--index", url], env=env, catch_exceptions=False)
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert f"cannot reach Elasticsearch at http://127.0.0.1:{port}" in line
    assert "s3cret" not in result.output


def test_an_unexpected_failure_is_still_one_line_without_secrets(
    ingested: Ingested, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl.backends.sqlite.backend import SqliteBackend

    def broken(self: SqliteBackend) -> int:
        raise RuntimeError("lost http://admin:hunter2@es.internal:9200/ on the way")

    monkeypatch.setattr(SqliteBackend, "count", broken)
    result = ingested.run("stats")
    assert result.exit_code == 1
    assert _one_error_line(result) == (
        "error: unexpected RuntimeError: lost http://es.internal:9200/ on the way "
        "(ARTICLE_ETL_DEBUG=1 shows the traceback)"
    )
    assert "hunter2" not in result.output


# --- ingest: compressed files, globs that match nothing -----------------------------------------


def test_html_gz_is_unchanged_on_the_second_run(tmp_path: Path) -> None:
    """A .html.gz must not look changed on every run (every scheduled run started a batch)."""
    from etl.inputs import changed_files

    folder = tmp_path / "inbox"
    folder.mkdir()
    page = folder / "harbor.html.gz"
    html = (EXAMPLES / HARBOR).read_bytes()
    page.write_bytes(gzip.compress(html, mtime=1_700_000_000))
    index = tmp_path / "index.db"
    first = _json(_run(["ingest", str(folder), "--json"], index))
    assert first["counts"]["indexed"] == 1
    # What the ingest_files DAG lists before it starts a batch: nothing new.
    assert changed_files([str(folder)], Settings(index=str(index))) == []
    # Compressed again (another time in the gzip header): the same article, unchanged.
    page.write_bytes(gzip.compress(html, mtime=1_800_000_000))
    assert changed_files([str(folder)], Settings(index=str(index))) == []
    second = _json(_run(["ingest", str(folder), "--json"], index))
    assert second["counts"] == {"indexed": 0, "unchanged": 1, "duplicate": 0, "rejected": 0}
    # A real change is still seen.
    page.write_bytes(gzip.compress(html.replace(b"dockworkers", b"dock workers")))
    assert changed_files([str(folder)], Settings(index=str(index))) == [str(page)]


def test_an_include_that_matches_nothing_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(EXAMPLES / HARBOR, folder / HARBOR)
    result = _run(["ingest", str(folder), "--include", "*.htm", "--json"], tmp_path / "i.db")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"note: --include '*.htm' matched none of the 1 article file(s) in {folder}: "
        "nothing to ingest\n"
    )
    assert json.loads(result.stdout)["counts"] == {
        "indexed": 0,
        "unchanged": 0,
        "duplicate": 0,
        "rejected": 0,
    }
    empty = tmp_path / "empty-inbox"
    empty.mkdir()
    result = _run(["ingest", str(empty)], tmp_path / "i.db")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"note: no article files in {empty} (they end in .html")
    assert len(result.stderr.splitlines()) == 1


# --- search: NOT and -word ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("NOT dockworkers", {KOELN, AZORES}),
        ("-dockworkers", {KOELN, AZORES}),
        ('-"automated cranes"', {KOELN, AZORES}),
        ("Rotterdam -dockworkers", set()),
        ("dock* NOT Rotterdam", set()),
        ("Stadtrat OR cable", {KOELN, AZORES}),
        ("Stadtrat OR cable NOT Azores", {KOELN}),
        ("Stadtrat OR cable -azore*", {KOELN}),
        ("not dockworkers", {HARBOR}),  # lower case: the word "not", which it contains
    ],
)
def test_search_not_and_minus_exclude(ingested: Ingested, query: str, expected: set[str]) -> None:
    data = _json(ingested.run("search", "--json", "--", query))
    assert {h["id"] for h in data["hits"]} == {ingested.doc_id(n) for n in expected}
    assert data["total"] == len(expected)


# --- status, help, version --------------------------------------------------------------------


def test_status_fits_80_columns(ingested: Ingested) -> None:
    assert len(str(ingested.index)) < 60, "the test needs a short temporary path"
    result = _run_wide(["status"], ingested.index, columns=80)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    assert "…" not in result.stdout  # nothing cut off
    assert f"index and ledger {ingested.index}" in lines
    squeezed = [" ".join(line.split()) for line in lines]
    assert any(re.fullmatch(r"\S+ \S+ ok 3 0 0 1", line) for line in squeezed), result.stdout
    assert any(re.fullmatch(r"\S+ \S+ ok 0 3 0 0", line) for line in squeezed), result.stdout
    assert any(line.endswith("empty.txt: empty file") for line in squeezed)


def test_version(tmp_path: Path) -> None:
    from etl import __version__

    result = _run(["--version"], tmp_path / "index.db")
    assert result.exit_code == 0
    assert result.stdout == f"article-etl {__version__}\n"


SUBCOMMANDS = [
    ["es"],
    ["es", "setup"],
    ["es", "status"],
    ["es", "reindex"],
    ["es", "template"],
    ["kibana", "setup"],
]


@pytest.mark.parametrize(
    "command", [[], *([c] for c in COMMANDS), *SUBCOMMANDS], ids=lambda c: "-".join(c)
)
def test_help_shows_no_python_type_names(command: list[str], tmp_path: Path) -> None:
    result = _run_wide([*command, "--help"], tmp_path / "index.db", columns=100)
    assert result.exit_code == 0, result.output
    for leak in ("<str>", "<int>", "<bool>", "<Path>", "list[", "Optional[", "<class", "None"):
        assert leak not in result.stdout, leak


# --- export -----------------------------------------------------------------------------------


def test_export_writes_every_record_as_json_lines(ingested: Ingested, tmp_path: Path) -> None:
    result = ingested.run("export")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    ids = sorted(ingested.doc_id(n) for n in (HARBOR, KOELN, AZORES))
    assert [r["id"] for r in records] == ids  # the embedded index: in id order
    harbor = _json(ingested.run("show", ingested.doc_id(HARBOR), "--json"))
    assert records[ids.index(harbor["id"])] == harbor  # the whole record, as show --json
    assert ingested.run("export", "-").stdout == result.stdout
    target = tmp_path / "backup.jsonl"
    to_file = ingested.run("export", str(target))
    assert to_file.exit_code == 0, to_file.output
    assert to_file.stdout == ""
    assert to_file.stderr == f"exported 3 article(s) to {target}\n"
    assert target.read_text(encoding="utf-8") == result.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["backup.jsonl"]  # no partial file left


def test_export_without_an_index(tmp_path: Path) -> None:
    result = _run(["export"], tmp_path / "none.db")
    assert result.exit_code == 1
    assert "no index at" in _one_error_line(result)
    assert not (tmp_path / "none.db").exists()


class _ScrollingClient:
    """Just enough of the Elasticsearch client for ``helpers.scan``: two pages of hits."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.pages = [docs[:2], docs[2:], []]
        self.searches: list[dict[str, Any]] = []
        self.cleared: list[str] = []

    def options(self, **_: Any) -> _ScrollingClient:
        return self

    @property
    def cluster(self) -> _ScrollingClient:  # the reachability check's cluster.health()
        return self

    def health(self) -> dict[str, Any]:
        return {"status": "green"}

    def _page(self, n: int) -> dict[str, Any]:
        hits = [{"_id": d["id"], "_source": d} for d in self.pages[n]]
        return {
            "_scroll_id": f"scroll-{n}",
            "_shards": {"total": 1, "successful": 1},
            "hits": {"hits": hits},
        }

    def search(self, **kwargs: Any) -> dict[str, Any]:
        self.searches.append(kwargs)
        return self._page(0)

    def scroll(self, scroll_id: str, **_: Any) -> dict[str, Any]:
        return self._page(int(scroll_id.rpartition("-")[2]) + 1)

    def clear_scroll(self, scroll_id: str) -> None:
        self.cleared.append(scroll_id)

    def close(self) -> None:
        pass


def test_export_from_elasticsearch_scrolls_the_read_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import etl.backends.elasticsearch.backend as es_backend

    docs = [{"id": f"doc{n}", "title": f"Article {n}"} for n in range(3)]
    client = _ScrollingClient(docs)
    monkeypatch.setattr(es_backend, "build_client", lambda settings: client)
    env = {**_env(tmp_path / "i.db"), "ARTICLE_ETL_INDEX": "https://etl:s3cret@es.example:9200"}
    result = runner.invoke(app, ["export"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == docs
    assert client.searches[0]["index"] == "articles"  # the read alias
    assert client.cleared == ["scroll-2"]


# --- the README's "Using it", as written ----------------------------------------------------


def _using_it_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, "no bash block in Using it"
    commands = []
    for line in match[1].splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).strip()
        if line and not line.startswith(". "):  # ". .venv/bin/activate"
            commands.append(line)
    return commands


def test_every_command_of_using_it_runs_and_finds_something(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command line of the README's "Using it", in order, from a checkout's folder, with the
    default index: exit 0 and something found (searches: at least one hit)."""
    seeds = SEED_DIR
    if not seeds.is_dir():
        pytest.skip(f"{seeds} is not beside this checkout")
    work = tmp_path / "main"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    monkeypatch.chdir(work)
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ARTICLE_ETL_")}
    env["ARTICLE_ETL_WORKERS"] = "1"
    shell_env = {k: v for k, v in os.environ.items() if not k.startswith("ARTICLE_ETL_")}
    shell_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{shell_env.get('PATH', '')}"
    commands = _using_it_commands()
    assert len(commands) >= 8
    # each is a pipeline (the shell runs it) or one article-etl command
    assert [c for c in commands if "|" not in c and shlex.split(c)[0] != "article-etl"] == []
    ids: list[str] = []
    found: dict[str, int] = {}  # per --json command: search hits, or inputs with an outcome
    for command in commands:
        assert "<id>" not in command or ids, f"no search before {command!r} gave an id"
        command = command.replace("<id>", ids[0] if ids else "")
        if "|" in command:  # a pipeline: the shell runs it
            proc = subprocess.run(
                ["bash", "-o", "pipefail", "-c", command],
                cwd=work,
                env=shell_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            code, output = proc.returncode, proc.stdout + proc.stderr
        else:
            args = shlex.split(command)
            result = runner.invoke(app, args[1:], env=env, catch_exceptions=False)
            code, output = result.exit_code, result.output
        assert code == 0, f"{command}\n{output}"
        assert output.strip(), f"{command} printed nothing"
        assert "Traceback" not in output
        if "--json" in command:
            data = json.loads(output)
            searched = "total" in data
            found[command] = data["total"] if searched else sum(data["counts"].values())
            ids = [h["id"] for h in data["hits"]] if searched else ids
        assert not output.startswith("0 matching"), f"{command} found nothing"
    assert found, "no --json command in Using it"
    assert {command: n for command, n in found.items() if n == 0} == {}, "found nothing"
    exported = (work / "backup.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(exported) == len(list(EXAMPLES.iterdir())) + len(list(seeds.iterdir()))


def test_the_histogram_counts_undated_articles_as_undated(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    body = " ".join(["The harbour board met to discuss the new cranes and the dredging plan."] * 8)
    (folder / "dated.md").write_text(f"---\ntitle: Cranes\ndate: 2025-03-04\n---\n\n{body}\n")
    (folder / "undated.txt").write_text(f"Ferry timetable changes\n\n{body} Ferries.\n")
    index = tmp_path / "index.db"
    assert _run(["ingest", str(folder)], index).exit_code == 0
    data = _json(_run(["search", "--histogram", "year", "--json"], index))
    assert data["histogram"] == [{"value": "2025", "count": 1}]
    assert data["undated"] == 1
    shown = _run_wide(["search", "--histogram", "year"], index)
    assert "2025: 1" in shown.stdout and "undated: 1" in shown.stdout
