"""Settings from the Airflow connection ``elasticsearch_default`` (when it is defined).

The connection is read through the official provider's hook
(``apache-airflow-providers-elasticsearch``): host, port, schema (the URL scheme, as the
provider uses it), login, password, and the extras ``api_key``, ``ca_certs``, ``verify_certs``.
Define it in the Airflow UI, with ``airflow connections add``, or as an environment variable::

    AIRFLOW_CONN_ELASTICSEARCH_DEFAULT='{"conn_type": "elasticsearch", "host": "es.example",
        "port": 9200, "schema": "https", "login": "etl", "password": "...",
        "extra": {"ca_certs": "/etc/ssl/es-ca.pem"}}'
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from etl.settings import Settings
from etl.settings_schema import Secret, parse_bool

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "elasticsearch_default"
DEFAULT_PORT = 9200
# ES 8+ has TLS on by default; an empty schema means https here (the provider's own SQL hook
# would fall back to http, which such a cluster refuses).
DEFAULT_SCHEME = "https"


def settings_from_airflow(settings: Settings, conn_id: str = DEFAULT_CONN_ID) -> Settings:
    """``settings`` pointed at the Airflow connection's cluster, or unchanged without one."""
    # Imported here: Airflow is an optional dependency and slow to import.
    # The public name; Airflow 3 re-exports the Task SDK's class there (mypy sees no export).
    from airflow.exceptions import AirflowNotFoundException  # type: ignore[attr-defined]
    from airflow.providers.elasticsearch.hooks.elasticsearch import ElasticsearchSQLHook

    hook = ElasticsearchSQLHook(elasticsearch_conn_id=conn_id)
    try:
        conn = hook.connection
    except AirflowNotFoundException:
        log.info("Airflow connection %r not defined: keeping index %s", conn_id, settings.index)
        return settings
    url = _url(conn.host or "", conn.port, conn.schema)
    extra: dict[str, Any] = conn.extra_dejson or {}
    changes: dict[str, Any] = {"index": url}
    if extra.get("api_key"):
        changes["es_api_key"] = Secret(str(extra["api_key"]))
    if conn.login:
        changes["es_username"] = conn.login
        changes["es_password"] = Secret(conn.password or "")
    if extra.get("ca_certs"):
        changes["es_ca_certs"] = str(extra["ca_certs"])
    if "verify_certs" in extra:
        changes["es_verify_certs"] = _as_bool(extra["verify_certs"])
    log.info("Elasticsearch from Airflow connection %r: %s", conn_id, url)
    return settings.with_overrides(**changes)


def _url(host: str, port: int | None, schema: str | None) -> str:
    if "://" in host:  # some define the host as a whole URL
        parts = urlsplit(host)
        scheme, hostname = parts.scheme, parts.hostname or ""
        port = port or parts.port
    else:
        scheme, hostname = (schema or DEFAULT_SCHEME), host
    if scheme not in ("http", "https"):
        raise ValueError(f"Airflow connection schema must be http or https, got {scheme!r}")
    if not hostname:
        raise ValueError("Airflow connection has no host")
    return f"{scheme}://{hostname}:{port or DEFAULT_PORT}"


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return parse_bool(str(value), "Airflow connection extra verify_certs")
