"""es setup / reindex / status (etl.backends.elasticsearch: admin, cli) against the loopback
double, and settings from the Airflow connection through the official provider."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from etl.backends.elasticsearch import admin as es_admin
from etl.backends.elasticsearch.backend import ElasticsearchBackend
from etl.backends.elasticsearch.cli import es_app
from etl.settings import Settings
from tests.es_double import EsDouble, unused_port
from tests.records import full_article

runner = CliRunner()


def test_setup_creates_template_index_and_aliases_once(es: EsDouble, es_settings: Settings) -> None:
    first = es_admin.setup(es_settings)
    assert first.created_index and first.index == "articles-v1"
    assert es.templates["articles-template"] == es_admin.build_index_template(es_settings)
    assert es.alias_targets("articles") == {"articles-v1": {}}
    assert es.alias_targets("articles-write") == {"articles-v1": {"is_write_index": True}}
    second = es_admin.setup(es_settings)
    assert not second.created_index and second.index == "articles-v1"
    assert list(es.indices) == ["articles-v1"]
    assert len(es.calls("PUT", "/articles-v")) == 1


def test_reindex_swaps_both_aliases_in_one_request_after_the_copy(
    es: EsDouble, es_settings: Settings
) -> None:
    es_admin.setup(es_settings)
    backend = ElasticsearchBackend.from_settings(es_settings)
    backend.upsert([replace(full_article(), id=f"d{i}") for i in range(3)])
    report = es_admin.reindex(es_settings)
    assert (report.source, report.dest, report.docs_copied) == ("articles-v1", "articles-v2", 3)

    order = [r.path for r in es.requests]
    reindex_at = order.index("/_reindex")
    (swap,) = es.calls("POST", "/_aliases")
    assert order.index("/_aliases") > reindex_at
    assert es.requests[reindex_at].status == 200  # answered (wait_for_completion) first
    assert es.requests[reindex_at].query["wait_for_completion"] == "true"
    assert es.requests[reindex_at].json()["dest"]["index"] == "articles-v2"
    assert sorted(json.dumps(a, sort_keys=True) for a in swap.json()["actions"]) == sorted(
        json.dumps(a, sort_keys=True)
        for a in [
            {"remove": {"index": "articles-v1", "alias": "articles"}},
            {"remove": {"index": "articles-v1", "alias": "articles-write"}},
            {"add": {"index": "articles-v2", "alias": "articles"}},
            {"add": {"index": "articles-v2", "alias": "articles-write", "is_write_index": True}},
        ]
    )
    assert es.alias_targets("articles") == {"articles-v2": {}}
    assert backend.count() == 3 and "articles-v1" in es.indices  # old index kept
    assert es_admin.reindex(es_settings).dest == "articles-v3"


def test_reindex_without_setup_says_to_run_setup(es_settings: Settings) -> None:
    with pytest.raises(Exception, match="article-etl es setup"):
        es_admin.reindex(es_settings)


def test_status_reports_health_indices_counts_and_aliases(
    es: EsDouble, es_settings: Settings
) -> None:
    es_admin.setup(es_settings)
    ElasticsearchBackend.from_settings(es_settings).upsert([full_article()])
    info = es_admin.status(es_settings)
    assert info["health"] == "green" and info["template_installed"] is True
    assert info["indices"] == [{"index": "articles-v1", "docs": 1}]
    assert info["aliases"] == {"articles": ["articles-v1"], "articles-write": ["articles-v1"]}


# --------------------------------------------------------------------------- command line


def test_cli_setup_status_reindex_with_json(es: EsDouble) -> None:
    env = {"ARTICLE_ETL_ES_MAX_RETRIES": "1"}
    setup = runner.invoke(es_app, ["setup", "--index", es.url, "--json"], env=env)
    assert setup.exit_code == 0, setup.output
    assert json.loads(setup.stdout)["index"] == "articles-v1"
    status = runner.invoke(es_app, ["status", "--index", es.url, "--json"], env=env)
    assert json.loads(status.stdout)["aliases"]["articles-write"] == ["articles-v1"]
    reindex = runner.invoke(es_app, ["reindex", "--index", es.url], env=env)
    assert reindex.exit_code == 0 and "articles-v1 -> articles-v2" in reindex.stdout


def test_cli_unreachable_cluster_is_one_line_and_exit_1() -> None:
    url = f"http://user:hunter22@127.0.0.1:{unused_port()}"
    env = {"ARTICLE_ETL_ES_MAX_RETRIES": "1"}
    for command in ("setup", "status", "reindex"):
        result = runner.invoke(es_app, [command, "--index", url, "--json"], env=env)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("error: cannot reach Elasticsearch at http://127.0.0.1:")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
        assert "hunter22" not in result.output
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        )


def test_cli_auth_failure_and_embedded_index_are_clear_errors(es: EsDouble) -> None:
    es.faults.required_auth = "ApiKey right"
    result = runner.invoke(
        es_app, ["status", "--index", es.url], env={"ARTICLE_ETL_ES_API_KEY": "wrong"}
    )
    assert result.exit_code == 1 and "refused the credentials (401)" in result.stderr
    embedded = runner.invoke(es_app, ["status"], env={"ARTICLE_ETL_INDEX": "data/x.db"})
    assert embedded.exit_code == 1 and "not an Elasticsearch URL" in embedded.stderr


def test_every_command_has_help_with_index_and_json() -> None:
    for command in ("setup", "reindex", "status"):
        result = runner.invoke(es_app, [command, "--help"])
        assert result.exit_code == 0
        assert "--index" in result.stdout and "--json" in result.stdout


# --------------------------------------------------------------------------- Airflow connection


def test_settings_from_airflow_connection_env_json(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("airflow.providers.elasticsearch")
    from etl.backends.elasticsearch.airflow_connection import settings_from_airflow

    monkeypatch.setenv(
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT",
        json.dumps(
            {
                "conn_type": "elasticsearch",
                "host": "es.example",
                "port": 9243,
                "schema": "https",
                "login": "etl",
                "password": "airflow-pw-123",
                "extra": {
                    "api_key": "id:key-456",
                    "ca_certs": "/etc/ca.pem",
                    "verify_certs": "true",
                },
            }
        ),
    )
    settings = settings_from_airflow(Settings(index="data/articles.db"))
    assert settings.index == "https://es.example:9243"
    assert settings.uses_elasticsearch
    assert settings.es_username == "etl"
    assert settings.es_password is not None and settings.es_password.get() == "airflow-pw-123"
    assert settings.es_api_key is not None and settings.es_api_key.get() == "id:key-456"
    assert settings.es_ca_certs == "/etc/ca.pem" and settings.es_verify_certs is True
    assert "airflow-pw-123" not in repr(settings) and "key-456" not in repr(settings)


def test_settings_unchanged_without_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("airflow.providers.elasticsearch")
    from etl.backends.elasticsearch.airflow_connection import settings_from_airflow

    monkeypatch.delenv("AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", raising=False)
    original = Settings(index="data/articles.db")
    assert settings_from_airflow(original) is original
