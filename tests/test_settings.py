"""Settings: environment mapping, validation, and secrets that never print."""

from __future__ import annotations

import pytest

from etl.settings import Settings, redact_url


def test_environment_maps_onto_settings() -> None:
    s = Settings.from_env(
        {
            "ARTICLE_ETL_INDEX": "https://es.example:9200",
            "ARTICLE_ETL_WORKERS": "3",
            "ARTICLE_ETL_SPACY_MODEL": "my_model",
            "ARTICLE_ETL_ALLOWED_NETWORKS": "127.0.0.0/8, ::1/128",
            "ARTICLE_ETL_ES_VERIFY_CERTS": "true",
        }
    )
    assert s.uses_elasticsearch and s.workers == 3 and s.spacy_model == "my_model"
    assert s.allowed_networks == ("127.0.0.0/8", "::1/128")
    assert s.es_verify_certs is True
    assert str(s.ledger_path) == "data/ledger.db"
    assert str(Settings.from_env({}).ledger_path) == "data/articles.db"


def test_bad_values_are_refused_with_the_variable_name() -> None:
    with pytest.raises(ValueError, match="ARTICLE_ETL_WORKERS"):
        Settings.from_env({"ARTICLE_ETL_WORKERS": "many"})
    with pytest.raises(ValueError, match="ARTICLE_ETL_ES_VERIFY_CERTS"):
        Settings.from_env({"ARTICLE_ETL_ES_VERIFY_CERTS": "perhaps"})


def test_secrets_never_appear_in_reprs() -> None:
    s = Settings.from_env(
        {
            "ARTICLE_ETL_INDEX": "https://elastic:hunter2-in-url@es.example:9200",
            "ARTICLE_ETL_ES_PASSWORD": "hunter2-password",
            "ARTICLE_ETL_ES_API_KEY": "hunter2-api-key",
        }
    )
    shown = repr(s) + str(s) + f"{s}"
    assert "hunter2" not in shown
    assert "es.example:9200" in shown
    assert s.es_password is not None and s.es_password.get() == "hunter2-password"


def test_redact_url() -> None:
    assert redact_url("https://u:p@h.example:9200/x") == "https://h.example:9200/x"
    assert redact_url("https://h.example/") == "https://h.example/"
    assert redact_url("data/articles.db") == "data/articles.db"
