"""Failure handling of the Elasticsearch es_backend, against the loopback double (not ES):
429 storms, 503s, connection resets, partial bulk failures, unreachable hosts, refused
credentials, and that no credential ever shows up in logs or messages."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from etl.backends.base import IndexSetupError, TransientIndexError
from etl.backends.elasticsearch import admin as es_admin
from etl.backends.elasticsearch.backend import ElasticsearchBackend
from etl.backends.elasticsearch.client import build_client
from etl.record import Article
from etl.settings import Settings
from etl.settings_schema import Secret
from tests.es_double import EsDouble, basic_auth_header, unused_port
from tests.records import full_article

SECRET = "s3cr3t-Pa55-7f1e9"  # distinctive: grep for it in every log line and message


def articles(n: int) -> list[Article]:
    return [replace(full_article(), id=f"d{i}") for i in range(n)]


def assert_each_indexed_once(es: EsDouble, ids: list[str]) -> None:
    assert set(es.docs("articles")) == set(ids)
    assert {i: es.index_ops[i] for i in ids} == dict.fromkeys(ids, 1)


# --------------------------------------------------------------------------- 429 / 503 / resets


def test_after_a_429_storm_every_document_is_indexed_exactly_once(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    es.faults.bulk_429 = 3
    results = es_backend.upsert(articles(6))
    assert all(r.ok for r in results)
    assert_each_indexed_once(es, [f"d{i}" for i in range(6)])
    assert [r.status for r in es.calls(path_part="_bulk")] == [429, 429, 429, 200]


def test_item_level_429_is_retried_for_that_document_only(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    es.faults.item_429 = {"d2": 2}
    assert all(r.ok for r in es_backend.upsert(articles(4)))
    assert_each_indexed_once(es, ["d0", "d1", "d2", "d3"])
    retried = [[h["index"]["_id"] for h in r.ndjson()[::2]] for r in es.calls(path_part="_bulk")]
    assert retried == [["d0", "d1", "d2", "d3"], ["d2"], ["d2"]]


def test_persistent_item_429_raises_transient_error(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    es.faults.item_429 = {"d1": 1000}
    with pytest.raises(TransientIndexError, match=r"1 document\(s\) not indexed.*429"):
        es_backend.upsert(articles(3))


def test_503_then_recovery_indexes_everything_once(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    es.faults.bulk_503 = 2
    assert all(r.ok for r in es_backend.upsert(articles(3)))
    assert_each_indexed_once(es, ["d0", "d1", "d2"])


def test_persistent_503_raises_transient_error_with_clear_message(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    es.faults.bulk_503 = 1000
    with pytest.raises(TransientIndexError) as info:
        es_backend.upsert(articles(2))
    message = str(info.value)
    assert "503" in message and "pending" in message and es.url in message
    assert es.docs("articles") == {}


def test_connection_reset_is_retried(es: EsDouble, es_backend: ElasticsearchBackend) -> None:
    es.faults.reset = 2
    assert all(r.ok for r in es_backend.upsert(articles(3)))
    assert [r.status for r in es.calls(path_part="_bulk")] == [None, None, 200]
    assert_each_indexed_once(es, ["d0", "d1", "d2"])


def test_persistent_connection_resets_raise_transient_error(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    es.faults.reset = 1000
    with pytest.raises(TransientIndexError, match="cannot reach Elasticsearch"):
        es_backend.upsert(articles(2))


# --------------------------------------------------------------------------- rejected documents


def test_partial_bulk_failure_rejects_only_the_failed_documents_with_es_reason(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    es.faults.reject = {
        "d1": ("mapper_parsing_exception", "failed to parse field [published] of type [date]"),
        "d3": (
            "strict_dynamic_mapping_exception",
            "mapping set to strict, dynamic introduction of [extra] within [_doc] is not allowed",
        ),
    }
    results = es_backend.upsert(articles(5))
    by_id = {r.doc_id: r for r in results}
    assert [r.doc_id for r in results] == ["d0", "d1", "d2", "d3", "d4"]
    assert not by_id["d1"].ok
    assert by_id["d1"].reason == (
        "mapper_parsing_exception: failed to parse field [published] of type [date]"
    )
    assert not by_id["d3"].ok
    assert by_id["d3"].reason.startswith("strict_dynamic_mapping_exception: mapping set to strict")
    assert all(by_id[i].ok for i in ("d0", "d2", "d4"))
    assert_each_indexed_once(es, ["d0", "d2", "d4"])
    # Rejections are final: not retried.
    assert len(es.calls(path_part="_bulk")) == 1


def test_the_double_enforces_the_templates_strict_mapping(
    es: EsDouble, es_backend: ElasticsearchBackend
) -> None:
    # Sanity of the double itself: a document with an unmapped field is refused like ES does.
    es.indices["articles-v1"]["mappings"]["properties"].pop("tag")
    (result,) = es_backend.upsert(articles(1))
    assert not result.ok
    assert "strict_dynamic_mapping_exception" in result.reason and "[tag]" in result.reason


# --------------------------------------------------------------------------- unreachable, auth


@pytest.mark.timeout(60)  # the transport's retries with this backoff would take minutes
def test_unreachable_host_is_reported_at_once_with_the_reason() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    settings = Settings(index=url, es_retry_initial_backoff=20, es_max_retries=5)
    with pytest.raises(TransientIndexError) as info:
        ElasticsearchBackend.from_settings(settings)
    assert str(info.value) == f"cannot reach Elasticsearch at {url} (connection refused)"


def test_unreachable_host_during_a_bulk_raises_transient_error_clearly() -> None:
    url = f"http://127.0.0.1:{unused_port()}"
    settings = Settings(index=url, es_retry_initial_backoff=0.001, es_max_retries=2)
    es_backend = ElasticsearchBackend(build_client(settings), settings)
    with pytest.raises(TransientIndexError) as info:
        es_backend.upsert(articles(2))
    message = str(info.value)
    assert message == (
        f"cannot reach Elasticsearch at {url} (connection refused) while indexing 2 document(s)"
    )
    with pytest.raises(TransientIndexError, match="cannot reach Elasticsearch"):
        es_backend.ensure_ready()


def test_refused_credentials_are_a_setup_error_not_a_rejection(
    es: EsDouble, es_settings: Settings
) -> None:
    es_admin.setup(es_settings)
    es.faults.required_auth = basic_auth_header("etl", "the-right-one")
    settings = replace(es_settings, es_username="etl", es_password=Secret("wrong"))
    es_backend = ElasticsearchBackend.from_settings(settings)
    with pytest.raises(IndexSetupError, match=r"refused the credentials \(401\)"):
        es_backend.upsert(articles(1))
    with pytest.raises(IndexSetupError, match=r"refused the credentials \(401\)"):
        es_backend.count()


def test_no_credential_in_any_log_line_or_error_message(
    es: EsDouble, caplog: pytest.LogCaptureFixture
) -> None:
    node_logger = logging.getLogger("elastic_transport.node")  # does not propagate: attach
    node_logger.addHandler(caplog.handler)
    node_logger.setLevel(logging.DEBUG)
    for name in ("elastic_transport", "elasticsearch", "etl"):
        caplog.set_level(logging.DEBUG, logger=name)
    messages: list[str] = []
    try:
        port = es.url.rsplit(":", 1)[1]
        es.faults.required_auth = basic_auth_header("etl", SECRET)
        basic = Settings(
            index=f"http://etl:{SECRET}@127.0.0.1:{port}",  # userinfo in the URL, too
            es_username="etl",
            es_password=Secret(SECRET),
            es_retry_initial_backoff=0.001,
            es_max_retries=2,
        )
        es_admin.setup(basic)
        es_backend = ElasticsearchBackend.from_settings(basic)
        messages.append(repr(es_backend))
        es.faults.reject = {"d1": ("mapper_parsing_exception", "bad date")}
        es.faults.bulk_429 = 1
        messages += [r.reason for r in es_backend.upsert(articles(2))]
        es.faults.bulk_503 = 1000
        with pytest.raises(TransientIndexError) as transient:
            es_backend.upsert(articles(1))
        messages.append(str(transient.value))
        es.faults.bulk_503 = 0

        api_key = replace(basic, es_username=None, es_password=None, es_api_key=Secret(SECRET))
        with pytest.raises(IndexSetupError) as refused:  # the double wants the basic header
            ElasticsearchBackend.from_settings(api_key).count()
        messages.append(str(refused.value))

        dead = replace(basic, index=f"http://etl:{SECRET}@127.0.0.1:{unused_port()}")
        with pytest.raises(TransientIndexError) as unreachable:
            ElasticsearchBackend.from_settings(dead).upsert(articles(1))
        messages.append(str(unreachable.value))
    finally:
        node_logger.removeHandler(caplog.handler)
    # The secret was really sent (so the check below means something)...
    assert any(r.headers.get("authorization") == es.faults.required_auth for r in es.requests)
    assert any(r.headers.get("authorization", "").startswith("ApiKey ") for r in es.requests)
    # ...and shows up nowhere a user or a log collector could see it.
    assert len(caplog.records) > 10
    assert SECRET not in caplog.text
    for message in messages:
        assert SECRET not in message, message


# --------------------------------------------------------------------------- end to end


def test_ingest_fails_while_unreachable_then_indexes_pending_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = pytest.importorskip("etl.pipeline")
    cli = pytest.importorskip("etl.cli.app")
    from typer.testing import CliRunner

    article_file = tmp_path / "strike.txt"
    article_file.write_text(
        "Harbour strike ends after talks\n\n"
        + "Dock workers in Lagos returned to work on Friday after the union and the port "
        "authority agreed on a new wage deal, ending a strike that had lasted two weeks. " * 4,
        encoding="utf-8",
    )
    ledger = tmp_path / "ledger.db"
    down = f"http://127.0.0.1:{unused_port()}"
    settings = Settings(
        index=down,
        ledger=str(ledger),
        workers=1,
        es_retry_initial_backoff=0.001,
        es_max_retries=1,
    )
    with pytest.raises(TransientIndexError, match="cannot reach Elasticsearch"):
        pipeline.ingest([str(article_file)], settings)

    monkeypatch.setenv("ARTICLE_ETL_LEDGER", str(ledger))
    monkeypatch.setenv("ARTICLE_ETL_ES_MAX_RETRIES", "1")
    result = CliRunner().invoke(cli.app, ["ingest", str(article_file), "--index", down])
    assert result.exit_code != 0
    assert "cannot reach Elasticsearch" in result.output
    assert "Traceback" not in result.output

    with EsDouble() as es:
        up = replace(settings, index=es.url)
        es_admin.setup(up)
        report = pipeline.ingest([str(article_file)], up)
        assert report.counts.get("indexed") == 1, report.counts
        (doc,) = es.docs("articles").values()
        assert doc["title"] == "Harbour strike ends after talks"
