"""Issue 12, item 5: a search is bounded. A query has at most 1,000 characters and 64 terms
(a clear error, exit 2, before anything runs), and a time budget (``ARTICLE_ETL_SEARCH_TIMEOUT``,
10 s by default): past it the search is stopped with a one-line error and exit 1, on the
embedded index (a SQLite progress handler) and on Elasticsearch (the search body's timeout).

Before, 300 prefix terms kept the embedded index busy for 53 s on 200 documents, and a
3,000-word query ran for more than ten minutes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from etl.backends.base import MAX_QUERY_CHARS, MAX_QUERY_TERMS, SearchRequest
from etl.cli.app import app
from etl.pipeline import ingest
from etl.settings import Settings
from tests.es_double import EsDouble
from tests.paths import EXAMPLES

runner = CliRunner()
PREFIXES = " OR ".join(f"{a}{b}*" for a in "abcdefgh" for b in "aeiou")[:MAX_QUERY_CHARS]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("bounds")
    settings = Settings(index=str(base / "index.db"), workers=1)
    assert ingest([str(EXAMPLES)], settings).counts["indexed"] > 5
    return base / "index.db"


def search(index: str | Path, *args: str, **env: str) -> Result:
    environ: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ARTICLE_ETL_")}
    environ.update({"ARTICLE_ETL_INDEX": str(index), **env})
    return runner.invoke(app, ["search", *args], env=environ)


def error_line(result: Result) -> str:
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("x" * (MAX_QUERY_CHARS + 1), "query too long: 1,001 characters (at most 1,000)"),
        (" ".join(["harbour"] * 3000), "query too long: 23,999 characters (at most 1,000)"),
        (words(MAX_QUERY_TERMS + 1), "query has too many terms: 65 (at most 64;"),
        (" ".join(["a*"] * 300), "query has too many terms: 300 (at most 64;"),
        ("a -b NOT c " * 22, "query has too many terms: 66 (at most 64;"),
    ],
    ids=["1001-chars", "3000-words", "65-words", "300-prefixes", "excluded-count-too"],
)
def test_a_query_past_the_bounds_is_refused_with_exit_2(
    index: Path, query: str, message: str
) -> None:
    result = search(index, "--", query)
    assert result.exit_code == 2
    assert message in error_line(result)


def test_a_query_at_the_bounds_runs(index: Path) -> None:
    assert len(PREFIXES) <= MAX_QUERY_CHARS
    at_most = " ".join(["harbour"] * MAX_QUERY_TERMS)
    for query in (at_most, PREFIXES.rsplit(" OR ", 1)[0], "x" * MAX_QUERY_CHARS):
        result = search(index, "--json", "--", query)
        assert result.exit_code == 0, result.output
    assert json.loads(search(index, "--json", "--", at_most).stdout)["total"] >= 1


def test_a_search_past_its_time_budget_is_stopped_with_exit_1(index: Path) -> None:
    # A budget no search can keep: the first look at the clock stops it.
    result = search(index, "--", PREFIXES, ARTICLE_ETL_SEARCH_TIMEOUT="0.000001")
    assert result.exit_code == 1, result.output
    assert error_line(result) == (
        "error: search stopped: it took longer than 1e-06s (ARTICLE_ETL_SEARCH_TIMEOUT); "
        "try fewer or longer prefixes, or fewer OR terms"
    )
    # The same index answers the same query within the default budget.
    assert search(index, "--json", "--", PREFIXES).exit_code == 0


def test_after_a_stopped_search_the_same_backend_answers_correctly(index: Path) -> None:
    """A long-lived process (one backend, many searches): a search stopped half-way leaves
    nothing half-read behind; the next one counts as a fresh backend would."""
    from etl.backends.base import SearchTimeout
    from etl.backends.sqlite.backend import SqliteBackend

    request = SearchRequest(query="harbour OR port*", facets=["person", "location"])
    fresh = SqliteBackend(index)
    expected = fresh.search(request)
    fresh.close()
    backend = SqliteBackend(index)
    backend.search_timeout = 0.000001
    with pytest.raises(SearchTimeout):
        backend.search(request)
    backend.search_timeout = 10.0
    assert backend.search(request) == expected
    backend.close()


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan"])
def test_a_bad_search_timeout_is_a_usage_error(index: Path, value: str) -> None:
    result = search(index, "harbour", ARTICLE_ETL_SEARCH_TIMEOUT=value)
    assert result.exit_code == 2
    assert "ARTICLE_ETL_SEARCH_TIMEOUT" in error_line(result)


def test_the_search_timeout_setting() -> None:
    assert Settings.from_env({}).search_timeout == 10.0
    assert Settings.from_env({"ARTICLE_ETL_SEARCH_TIMEOUT": "2.5"}).search_timeout == 2.5


# --- Elasticsearch: the same budget, as the search body's timeout ----------------------------


def es_search(es: EsDouble, *args: str, **env: str) -> Result:
    from etl.backends.elasticsearch import admin as es_admin

    settings = Settings(index=es.url)
    es_admin.setup(settings)
    return search(es.url, *args, **env)


def answer(timed_out: bool) -> dict[str, Any]:
    return {
        "took": 10_001,
        "timed_out": timed_out,
        "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
    }


def test_elasticsearch_is_sent_the_time_budget(es: EsDouble) -> None:
    es.canned_search = answer(timed_out=False)
    result = es_search(es, "--json", "harbour", ARTICLE_ETL_SEARCH_TIMEOUT="2.5")
    assert result.exit_code == 0, result.output
    (sent,) = es.calls(path_part="_search")
    assert sent.json()["timeout"] == "2500ms"


def test_an_elasticsearch_search_that_timed_out_is_an_error_not_partial_results(
    es: EsDouble,
) -> None:
    es.canned_search = answer(timed_out=True)
    result = es_search(es, "harbour")
    assert result.exit_code == 1
    assert "search stopped: it took longer than 10s" in error_line(result)


def test_elasticsearch_refuses_a_query_past_the_bounds_before_any_request(es: EsDouble) -> None:
    result = es_search(es, "--", words(MAX_QUERY_TERMS + 1))
    assert result.exit_code == 2
    assert "too many terms" in error_line(result)
    assert es.calls(path_part="_search") == []


@pytest.mark.live_es
def test_a_real_node_takes_the_time_budget(tmp_path: Path) -> None:
    from etl.backends.elasticsearch import admin as es_admin
    from tests.es_live import es_url, live_settings

    with live_settings(es_url(), tmp_path / "ledger.db") as settings:
        es_admin.setup(settings)
        ingest([str(EXAMPLES)], settings)
        env = {"ARTICLE_ETL_ES_ALIAS": settings.es_alias, "ARTICLE_ETL_SEARCH_TIMEOUT": "0.5"}
        result = search(settings.index, "--json", "--", PREFIXES, **env)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["total"] >= 1
        refused = search(settings.index, "--", words(MAX_QUERY_TERMS + 1), **env)
        assert refused.exit_code == 2
