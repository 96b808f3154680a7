"""The ``article-etl`` command as a user drives it: output, JSON for scripts, exit codes.

One small folder (three articles) is ingested once for the whole module; the read-only
commands all query that index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from etl.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "articles"
HARBOR = "harbor-ledger-rotterdam-port-strike.html"
KOELN = "rheinblick-rundschau-koeln-stadtbahn-porz.html"
AZORES = "azores-seafloor-cable-sensing.txt"
COMMANDS = ["ingest", "search", "show", "extract", "status", "stats"]

runner = CliRunner()


def _env(index: Path) -> dict[str, str | None]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ARTICLE_ETL_")}
    env.update({"ARTICLE_ETL_INDEX": str(index), "ARTICLE_ETL_WORKERS": "1"})
    return env


def _run(args: list[str], index: Path, stdin: str | bytes | None = None) -> Result:
    return runner.invoke(app, args, env=_env(index), input=stdin, catch_exceptions=False)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


class Ingested:
    def __init__(self, folder: Path, index: Path, missing: Path) -> None:
        self.folder = folder
        self.index = index
        self.missing = missing
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
    state = Ingested(folder, base / "index.db", base / "does-not-exist.html")
    state.first = _json(_run(["ingest", str(folder), str(state.missing), "--json"], state.index))
    state.second = _json(_run(["ingest", str(folder), "--json"], state.index))
    return state


# --- ingest ----------------------------------------------------------------------------------


def test_ingest_json_reports_counts_and_each_input(ingested: Ingested) -> None:
    report = ingested.first
    assert report["status"] == "ok"
    assert report["counts"] == {"indexed": 3, "unchanged": 0, "duplicate": 0, "rejected": 1}
    by_source = {Path(o["source"]).name: o for o in report["outcomes"]}
    assert set(by_source) == {HARBOR, KOELN, AZORES, "does-not-exist.html"}
    harbor = by_source[HARBOR]
    assert harbor["outcome"] == "indexed"
    assert (
        harbor["title"] == "Rotterdam dockworkers walk out as talks over automated cranes collapse"
    )
    assert harbor["doc_id"]
    assert by_source[KOELN]["title"] == "Stadtrat beschließt Verlängerung der Linie 13 bis Porz"


def test_ingest_of_a_missing_path_rejects_that_input(ingested: Ingested) -> None:
    (missing,) = [o for o in ingested.first["outcomes"] if o["outcome"] == "rejected"]
    assert missing["source"] == str(ingested.missing)
    assert "no such file" in missing["reason"]


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
    assert hit["published"] == "2024-11-07"
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
    assert doc["published"] == "2024-11-07"
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
    assert "file_time" in result.stdout


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
    assert data["published"] == "2026-01-19"
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
    assert any("does-not-exist.html" in r["source"] for r in data["recent_rejections"])


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
    assert data["facets"]["warning"].get("date_from_file_time") == 1  # the .txt article
    assert data["published_by_year"].get("2024") == 1


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
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"]["rejected"] == 1
    assert report["outcomes"][0]["reason"] == "no such file or directory"
