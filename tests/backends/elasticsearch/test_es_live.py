"""The Elasticsearch side against a real node (``ES_URL``, see tests/es_live.py), not a double.

The example articles and the seed article are ingested through the command line into a fresh
alias family on the node and into an embedded index; then every kind of search runs on the node,
and the two backends are compared (parity). Also: ``es setup`` / ``es status`` with the template
exactly as mappings/ ships it, a document the strict mapping refuses, a reindex while searches
run, and the DAGs (real Airflow, ``dag.test()``) writing to the node.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from etl.backends.base import IndexBackend, SearchRequest, SearchResult
from etl.backends.elasticsearch import admin as es_admin
from etl.backends.elasticsearch.backend import ElasticsearchBackend
from etl.backends.sqlite.backend import SqliteBackend
from etl.cli.app import app
from etl.ledger import Ledger
from etl.schema import load_schema
from etl.settings import Settings
from tests.airflow_fixtures import airflow_env, migrate, run_dag
from tests.conftest import SEED_PEOPLE, SEED_PLACES
from tests.es_live import env_for, es_url, live_settings
from tests.paths import EXAMPLES, ROOT, SEED_DIR
from tests.records import full_article

pytestmark = pytest.mark.live_es
runner = CliRunner()


def cli(settings: Settings, *args: str) -> Any:
    env: dict[str, str | None] = dict(env_for(settings))
    result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def inputs() -> list[str]:
    paths = [str(EXAMPLES)]
    if SEED_DIR.is_dir():
        paths.append(str(SEED_DIR))
    return paths


@dataclass
class Both:
    es: ElasticsearchBackend
    sqlite: SqliteBackend
    es_settings: Settings
    ingest_report: dict[str, Any]

    def each(self) -> Iterator[IndexBackend]:
        yield self.es
        yield self.sqlite


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    tmp = tmp_path_factory.mktemp("es-live")
    url = es_url()
    with live_settings(url, tmp / "ledger-es.db") as es_settings:
        setup = cli(es_settings, "es", "setup", "--json")
        assert setup["created_index"] is True
        report = cli(es_settings, "ingest", *inputs(), "--json")
        embedded = Settings(index=str(tmp / "embedded.db"), workers=1)
        cli(embedded, "ingest", *inputs(), "--json")
        es = ElasticsearchBackend.from_settings(es_settings)
        sqlite = SqliteBackend(embedded.index)
        try:
            yield Both(es, sqlite, es_settings, report)
        finally:
            es.close()
            sqlite.close()


def hit_ids(result: SearchResult) -> set[str]:
    return {h.id for h in result.hits}


def facet_counts(result: SearchResult) -> dict[str, dict[str, int]]:
    return {name: {v.value: v.count for v in values} for name, values in result.facets.items()}


# --------------------------------------------------------------------------- setup and status


def test_es_setup_installs_the_template_exactly_as_shipped(both: Both) -> None:
    client = both.es.client
    name = es_admin.template_name(both.es_settings)
    installed = client.indices.get_index_template(name=name).body["index_templates"][0]
    shipped = json.loads((ROOT / "mappings" / "index-template.json").read_text())
    template = installed["index_template"]["template"]
    assert template["mappings"] == shipped["template"]["mappings"]
    assert template["settings"]["index"]["analysis"] == shipped["template"]["settings"]["analysis"]
    # the node analyses with the template's analyzers: stemming, and the sortable normalizer
    index = es_admin.current_write_index(client, both.es_settings)
    stemmed = client.indices.analyze(index=index, field="title", text="Strikes ended")
    assert [t["token"] for t in stemmed.body["tokens"]] == ["strike", "end"]
    folded = client.indices.analyze(index=index, field="title.keyword", text="Zürich Café")
    assert [t["token"] for t in folded.body["tokens"]] == ["zurich cafe"]


def test_es_status_shows_health_indices_and_aliases(both: Both) -> None:
    status = cli(both.es_settings, "es", "status", "--json")
    alias = both.es_settings.es_alias
    assert status["health"] in {"green", "yellow"}
    assert status["template_installed"] is True
    assert status["indices"] == [{"index": f"{alias}-v1", "docs": both.es.count()}]
    assert status["aliases"] == {alias: [f"{alias}-v1"], f"{alias}-write": [f"{alias}-v1"]}
    text = cli(both.es_settings, "es", "status")
    assert f"{alias}-v1" in text


# --------------------------------------------------------------------------- ingest and search


def test_every_input_has_one_outcome_and_every_indexed_one_is_in_the_node(both: Both) -> None:
    outcomes = both.ingest_report["outcomes"]
    indexed = {o["doc_id"] for o in outcomes if o["outcome"] == "indexed"}
    assert len(indexed) >= 12
    assert both.es.count() == len(indexed) == both.sqlite.count()
    assert hit_ids(both.es.search(SearchRequest(size=100))) == indexed


def test_the_seed_article_gives_the_same_people_and_places_in_both(both: Both) -> None:
    if not SEED_DIR.is_dir():
        pytest.skip("the seed article is not beside this checkout")
    request = SearchRequest(query="Donbas", facets=["person", "location"], facet_size=50)
    for backend in both.each():
        result = backend.search(request)
        assert result.total >= 1
        assert {v.value for v in result.facets["person"]} >= SEED_PEOPLE
        assert {v.value for v in result.facets["location"]} >= SEED_PLACES


def test_words_phrases_prefixes_or_and_not(both: Both) -> None:
    def found(query: str) -> set[str]:
        return {h.title for h in both.es.search(SearchRequest(query=query, size=50)).hits}

    strike = found("strike")
    assert any("Rotterdam" in t for t in strike)
    assert found('"port strike"') <= strike
    assert found("glaci*") and found("glaci*") == found("glacier OR glaciers")
    solar, drought = found("solar"), found("drought")
    assert found("solar OR drought") == solar | drought
    assert found("solar -landfill") == solar - found("landfill")
    assert found("solar landfill") == solar & found("landfill")
    assert found("zzzqqq-nothing") == set()


def test_every_facet_and_filter(both: Both) -> None:
    facets = sorted(load_schema().facets)
    everything = both.es.search(SearchRequest(facets=facets, facet_size=100))
    assert everything.total == both.es.count()
    for name, values in everything.facets.items():
        for value in values[:2]:
            filtered = both.es.search(SearchRequest(filters={name: [value.value]}))
            assert filtered.total == value.count, (name, value)


def test_date_ranges_and_histogram(both: Both) -> None:
    years = both.es.search(SearchRequest(histogram="year")).histogram
    assert years and sum(b.count for b in years) <= both.es.count()
    first = years[0]
    in_first_year = both.es.search(
        SearchRequest(published_from=first.value, published_to=first.value)
    )
    assert in_first_year.total == first.count
    months = both.es.search(SearchRequest(histogram="month")).histogram
    assert sum(b.count for b in months) == sum(b.count for b in years)


def test_highlighting_and_paging(both: Both) -> None:
    hit = both.es.search(SearchRequest(query="Rotterdam")).hits[0]
    assert "<mark>Rotterdam</mark>" in hit.snippet
    total = both.es.count()
    pages = [both.es.search(SearchRequest(size=5, offset=o)) for o in range(0, total, 5)]
    seen = [h.id for page in pages for h in page.hits]
    assert len(seen) == len(set(seen)) == total


def test_export_gives_the_same_records_from_both_backends(both: Both) -> None:
    def exported(settings: Settings) -> dict[str, dict[str, Any]]:
        lines = cli(settings, "export").splitlines()
        return {d["id"]: d for d in map(json.loads, lines)}

    embedded = Settings(index=both.sqlite.path.as_posix(), workers=1)
    from_es, from_sqlite = exported(both.es_settings), exported(embedded)
    assert from_es.keys() == from_sqlite.keys() and len(from_es) == both.es.count()
    volatile = {"processed_at", "source"}  # when and from where each backend's run read it
    for doc_id, doc in from_es.items():
        other = from_sqlite[doc_id]
        assert {k: v for k, v in doc.items() if k not in volatile} == {
            k: v for k, v in other.items() if k not in volatile
        }


# --------------------------------------------------------------------------- parity

PARITY_QUERIES = [
    "",
    "solar",
    "strike",
    "Donbas",
    '"port strike"',
    "glaci*",
    "solar OR drought",
    "solar -landfill",
    "library Bristol",
    "energy",
    "rates",
    "film",
]


@pytest.mark.parametrize("query", PARITY_QUERIES)
def test_parity_same_hits_and_facets_as_the_embedded_index(both: Both, query: str) -> None:
    facets = sorted(load_schema().facets)
    request = SearchRequest(query=query, facets=facets, facet_size=200, size=100)
    es, embedded = both.es.search(request), both.sqlite.search(request)
    assert hit_ids(es) == hit_ids(embedded)
    assert es.total == embedded.total
    assert facet_counts(es) == facet_counts(embedded)


def test_parity_filters_date_ranges_and_histogram(both: Both) -> None:
    requests = [
        SearchRequest(filters={"language": ["en"]}, histogram="month"),
        SearchRequest(filters={"person": ["Vladimir Putin"]}, facets=["location"]),
        SearchRequest(published_from="2025-01-01", published_to="2026-12-31", histogram="year"),
        SearchRequest(query="solar", published_from="2026", facets=["site"]),
    ]
    for request in requests:
        es, embedded = both.es.search(request), both.sqlite.search(request)
        assert hit_ids(es) == hit_ids(embedded), request
        assert es.histogram == embedded.histogram, request
        assert facet_counts(es) == facet_counts(embedded), request


# --------------------------------------------------------------------------- refusals


def test_a_document_the_strict_mapping_refuses_is_rejected_with_the_reason(
    tmp_path: Path,
) -> None:
    """Extraction validates dates now (a Markdown front-matter date "March 4, 2025" is stored
    as 2025-03-04, garbage is dropped with a warning), so ingesting files no longer produces a
    document the mapping refuses. A program writing through the backend API still can: the
    refused document gets Elasticsearch's own reason and the rest of the batch is indexed."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    body = " ".join(["The harbour board met to discuss the new cranes and the dredging plan."] * 8)
    (folder / "written-date.md").write_text(
        f"---\ntitle: Ferry timetable changes\ndate: March 4, 2025\n---\n\n{body} Ferries.\n"
    )
    with live_settings(es_url(), tmp_path / "ledger.db") as settings:
        cli(settings, "es", "setup")
        report = cli(settings, "ingest", str(folder), "--json")
        (outcome,) = report["outcomes"]
        assert outcome["outcome"] == "indexed"
        backend = ElasticsearchBackend.from_settings(settings)
        try:
            stored = backend.get(outcome["doc_id"]) or {}
            assert (stored["published"], stored["published_source"]) == ("2025-03-04", "input")
            good = replace(full_article(), id="good-record")
            # "March 4, 2025": not a date Elasticsearch reads
            bad = replace(full_article(), id="bad-record", published="March 4, 2025")
            results = {r.doc_id: r for r in backend.upsert([good, bad])}
            assert results["good-record"].ok
            assert not results["bad-record"].ok
            # Elasticsearch's own reason, as its bulk response gave it
            assert "document_parsing_exception" in results["bad-record"].reason
            assert "published" in results["bad-record"].reason
            assert backend.get("good-record") is not None
            assert backend.get("bad-record") is None
            assert backend.count() == 2  # the ingested article and the good record
        finally:
            backend.close()


def test_a_refused_document_in_a_run_is_recorded_as_rejected_and_the_rest_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same refusal inside an ingest run: the ledger records that input as rejected with
    Elasticsearch's reason, and the other inputs of the batch are indexed."""
    from etl import pipeline
    from etl.record import Article

    folder = tmp_path / "inbox"
    folder.mkdir()
    body = " ".join(["The harbour board met to discuss the new cranes and the dredging plan."] * 8)
    (folder / "cranes.txt").write_text(f"Harbour board approves cranes\n\n{body}\n")
    (folder / "ferry.txt").write_text(f"Ferry timetable changes\n\n{body} Ferries.\n")
    real = Article.to_document

    def with_a_bad_date(self: Article) -> dict[str, Any]:
        doc = real(self)
        if "Ferry" in self.title:  # a value the strict mapping's date type refuses
            doc["published"] = "the fourth of March"
        return doc

    monkeypatch.setattr(Article, "to_document", with_a_bad_date)
    with live_settings(es_url(), tmp_path / "ledger.db") as settings:
        es_admin.setup(settings)
        report = pipeline.ingest([str(folder)], settings)
        by_name = {Path(o.source).name: o for o in report.outcomes}
        assert by_name["cranes.txt"].outcome == "indexed"
        assert by_name["ferry.txt"].outcome == "rejected"
        assert "document_parsing_exception" in by_name["ferry.txt"].reason
        ledger = Ledger(settings.ledger_location)
        try:
            states = ledger.states([o.source for o in report.outcomes])
            assert {Path(k).name: v.outcome for k, v in states.items()} == {
                "cranes.txt": "indexed",
                "ferry.txt": "rejected",
            }
            assert "document_parsing_exception" in states[by_name["ferry.txt"].source].reason
        finally:
            ledger.close()
        backend = ElasticsearchBackend.from_settings(settings)
        try:
            assert backend.count() == 1
        finally:
            backend.close()


# --------------------------------------------------------------------------- reindex


def test_reindex_swaps_both_aliases_while_searches_run(both: Both, tmp_path: Path) -> None:
    with live_settings(es_url(), tmp_path / "ledger.db") as settings:
        cli(settings, "es", "setup")
        cli(settings, "ingest", str(EXAMPLES), "--json")
        backend = ElasticsearchBackend.from_settings(settings)
        before = hit_ids(backend.search(SearchRequest(size=100)))
        errors: list[BaseException] = []
        searches = 0
        stop = threading.Event()

        def keep_searching() -> None:
            nonlocal searches
            reader = ElasticsearchBackend.from_settings(settings)
            try:
                while not stop.is_set():
                    try:
                        assert hit_ids(reader.search(SearchRequest(size=100))) == before
                        searches += 1
                    except BaseException as exc:  # reported below
                        errors.append(exc)
            finally:
                reader.close()

        searcher = threading.Thread(target=keep_searching)
        searcher.start()
        try:
            report = cli(settings, "es", "reindex", "--json")
        finally:
            stop.set()
            searcher.join(timeout=60)
        try:
            assert not errors, errors[:1]
            assert searches > 0
            alias = settings.es_alias
            assert report["source"] == f"{alias}-v1" and report["dest"] == f"{alias}-v2"
            assert report["docs_copied"] == len(before)
            status = es_admin.status(settings)
            assert status["aliases"] == {alias: [f"{alias}-v2"], f"{alias}-write": [f"{alias}-v2"]}
            assert hit_ids(backend.search(SearchRequest(size=100))) == before
        finally:
            backend.close()


# --------------------------------------------------------------------------- Airflow


@pytest.mark.airflow
@pytest.mark.slow
def test_ingest_files_and_reindex_articles_dags_write_to_the_node(tmp_path: Path) -> None:
    with live_settings(es_url(), tmp_path / "ledger.db") as settings:
        cli(settings, "es", "setup")
        home = tmp_path / "airflow"
        home.mkdir()
        env = airflow_env(
            home,
            ARTICLE_ETL_ES_ALIAS=settings.es_alias,
            ARTICLE_ETL_LEDGER=str(settings.ledger),
            ARTICLE_ETL_INDEX=settings.index,
        )
        migrate(env)
        ingest = run_dag("ingest_files", env, runs=[{"paths": [str(EXAMPLES)], "batch_size": 5}])
        run = ingest["runs"][0]
        assert run["state"] == "success", ingest["log"][-4000:]
        indexed = run["xcoms"]["report"]["counts"]["indexed"]
        backend = ElasticsearchBackend.from_settings(settings)
        try:
            assert indexed >= 10 and backend.count() == indexed
            reindex = run_dag("reindex_articles", env, runs=[{}])
            run = reindex["runs"][0]
            assert run["state"] == "success", reindex["log"][-4000:]
            assert run["xcoms"]["reindex"]["docs_copied"] == indexed
            assert run["xcoms"]["reindex"]["dest"] == f"{settings.es_alias}-v2"
            assert backend.count() == indexed
        finally:
            backend.close()


# --------------------------------------------------------------------------- as a new user


def test_the_readme_commands_against_the_node(tmp_path: Path) -> None:
    """`es setup && ingest ../shared/seeds && search Donbas --facet person --facet location`
    as separate processes, the way the README runs them."""
    if not SEED_DIR.is_dir():
        pytest.skip("the seed article is not beside this checkout")
    with live_settings(es_url(), tmp_path / "ledger.db") as settings:
        env = env_for(settings)

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(
                [sys.executable, "-m", "etl", *args],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr
            return done

        run("es", "setup")
        run("ingest", str(SEED_DIR))
        done = run("search", "Donbas", "--facet", "person", "--facet", "location", "--json")
        facets = json.loads(done.stdout)["facets"]
        assert {v["value"] for v in facets["person"]} >= SEED_PEOPLE
        assert {v["value"] for v in facets["location"]} >= SEED_PLACES
        client = Elasticsearch(settings.index)
        try:
            assert client.count(index=settings.es_alias).body["count"] == 1
        finally:
            client.close()
