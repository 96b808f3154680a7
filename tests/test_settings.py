"""Settings: environment mapping, validation, and secrets that never print."""

from __future__ import annotations

import runpy
from dataclasses import MISSING, fields, replace
from pathlib import Path

import pytest

from etl.settings import DEFAULT_SCHEDULE, ENV_SETTINGS, Settings, debug_requested, redact_url
from etl.settings_schema import SECTIONS
from tests.paths import ROOT


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
    assert s.ledger_location == "data/ledger.db"
    assert Settings.from_env({}).ledger_location == "data/articles.db"


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


def test_every_number_setting_names_its_variable() -> None:
    with pytest.raises(ValueError, match="ARTICLE_ETL_ES_RETRY_BACKOFF must be a number"):
        Settings.from_env({"ARTICLE_ETL_ES_RETRY_BACKOFF": "soon"})
    for bad in ("0", "-1", "nan", "soon"):
        with pytest.raises(ValueError, match="ARTICLE_ETL_SEARCH_TIMEOUT must be a number above 0"):
            Settings.from_env({"ARTICLE_ETL_SEARCH_TIMEOUT": bad})
    with pytest.raises(ValueError, match="ARTICLE_ETL_MAX_PARALLEL_BATCHES must be a whole number"):
        Settings.from_env({"ARTICLE_ETL_MAX_PARALLEL_BATCHES": "2.5"})


def test_env_schedule() -> None:
    assert Settings.from_env({}).schedule == DEFAULT_SCHEDULE
    assert Settings.from_env({}).url_schedule is None
    for manual in ("", "none", "manual", "None"):
        assert Settings.from_env({"ARTICLE_ETL_SCHEDULE": manual}).schedule is None
    cron = Settings.from_env({"ARTICLE_ETL_URL_SCHEDULE": "*/5 * * * *"})
    assert cron.url_schedule == "*/5 * * * *"


def test_airflow_settings() -> None:
    s = Settings.from_env(
        {
            "ARTICLE_ETL_INBOX": "/data/inbox",
            "ARTICLE_ETL_PATH_ROOTS": "/data/a folder:/data/b:",
            "ARTICLE_ETL_FEEDS": "https://a.example/feed, https://b.example/rss",
            "ARTICLE_ETL_SITEMAPS": "",
        }
    )
    assert s.inbox == "/data/inbox"
    assert s.path_roots == ("/data/a folder", "/data/b")
    assert s.feeds == ("https://a.example/feed", "https://b.example/rss")
    assert s.sitemaps == () and s.url_list is None


def test_debug_is_read_on_its_own() -> None:
    assert not debug_requested({})
    assert not debug_requested({"ARTICLE_ETL_DEBUG": "0"})
    assert debug_requested({"ARTICLE_ETL_DEBUG": "1"})
    # Asked while an error is reported: a malformed value must not raise a second error.
    assert debug_requested({"ARTICLE_ETL_DEBUG": "please", "ARTICLE_ETL_WORKERS": "many"})


def test_the_settings_table() -> None:
    names = [row.env for row in ENV_SETTINGS]
    assert len(names) == len(set(names)), "a variable declared twice"
    for row in ENV_SETTINGS:
        assert row.env.startswith("ARTICLE_ETL_") and row.section in SECTIONS, row
        assert row.help and "\n" not in row.help, f"{row.env}: one line of help"
        # the declared default is what an empty environment gives (a computed one, as computed
        # now: the cache folder follows XDG_CACHE_HOME)
        field = next(f for f in fields(Settings) if f.name == row.name)
        default = row.default if field.default_factory is MISSING else field.default_factory()
        assert getattr(Settings.from_env({}), row.name) == default, row.env


def test_readme_and_env_example_are_generated_from_the_settings_table() -> None:
    generator = runpy.run_path(str(ROOT / "scripts" / "gen_settings_docs.py"))
    stale = generator["stale_files"]()
    assert not stale, "\n".join(stale.values()) + "\nrun: python scripts/gen_settings_docs.py"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for row in ENV_SETTINGS:
        assert f"| `{row.env}`" in readme, f"{row.env} is not in README's settings tables"


def test_an_undocumented_setting_makes_the_docs_stale() -> None:
    generator = runpy.run_path(str(ROOT / "scripts" / "gen_settings_docs.py"))
    new = replace(ENV_SETTINGS[0], env="ARTICLE_ETL_NEW", name="new", example="1")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    env_example = (ROOT / ".env.example").read_text(encoding="utf-8")
    rows = (*ENV_SETTINGS, new)
    assert "ARTICLE_ETL_NEW" in generator["generated_readme"](readme, rows)
    assert "ARTICLE_ETL_NEW=1" in generator["generated_env_example"](env_example, rows)


def test_the_cache_folder_follows_xdg_and_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings.from_env({"ARTICLE_ETL_CACHE_DIR": "off"}).cache_dir is None
    assert Settings.from_env({"ARTICLE_ETL_CACHE_DIR": str(tmp_path)}).cache_dir == str(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Settings.from_env({}).cache_dir == str(tmp_path / "xdg" / "article-etl")
