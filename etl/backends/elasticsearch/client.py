"""The Elasticsearch client: connection settings, credentials, and client errors translated.

Credentials (``Secret``) are unwrapped only in ``build_client``; messages show URLs without
userinfo. Failures, as the pipeline and the CLI see them:

* 429 / 5xx / connection errors that persist after retries -> ``TransientIndexError`` (the
  batch fails, Airflow retries it, the inputs stay pending);
* authentication, missing aliases, TLS problems -> ``IndexSetupError``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionTimeout,
    Elasticsearch,
    NotFoundError,
    UnsupportedProductError,
)
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import SSLError as EsSSLError
from elasticsearch import TransportError as EsTransportError

from etl.backends.base import IndexError_, IndexSetupError, TransientIndexError
from etl.settings import Settings, redact_url

log = logging.getLogger(__name__)

# Statuses the client's transport retries (with backoff) for every request.
RETRY_ON_STATUS = (429, 502, 503, 504)
MAX_BACKOFF_SECONDS = 60.0
SETUP_HINT = "run `article-etl es setup`"


# --------------------------------------------------------------------------- names, URLs


def read_alias(settings: Settings) -> str:
    return settings.es_alias


def write_alias(settings: Settings) -> str:
    return f"{settings.es_alias}-write"


def _url_credentials(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


# --------------------------------------------------------------------------- client


def build_client(settings: Settings) -> Elasticsearch:
    """The client for ``settings.index``: the only place where secrets are unwrapped."""
    url = redact_url(settings.index)
    if not settings.uses_elasticsearch:
        raise IndexSetupError(
            f"{settings.index!r} is not an Elasticsearch URL: set ARTICLE_ETL_INDEX=https://... "
            "or pass --index"
        )
    kwargs: dict[str, Any] = {
        "hosts": [url],
        "request_timeout": settings.es_request_timeout,
        "retry_on_status": RETRY_ON_STATUS,
        "retry_on_timeout": True,
        "max_retries": settings.es_max_retries,
        # Both > 0 turn on the transport's jittered exponential backoff between retries.
        "retry_backoff_base": settings.es_retry_initial_backoff,
        "retry_backoff_cap": MAX_BACKOFF_SECONDS,
    }
    if url.startswith("https://"):
        kwargs.update(_tls_options(settings, url))
    url_credentials = _url_credentials(settings.index)
    if settings.es_api_key:
        kwargs["api_key"] = _api_key(settings.es_api_key.get())
    elif settings.es_username:
        password = settings.es_password.get() if settings.es_password else ""
        kwargs["basic_auth"] = (settings.es_username, password)
    elif url_credentials:
        kwargs["basic_auth"] = url_credentials
    return Elasticsearch(**kwargs)


def _tls_options(settings: Settings, url: str) -> dict[str, Any]:
    options: dict[str, Any] = {"verify_certs": settings.es_verify_certs}
    if settings.es_ca_certs:
        options["ca_certs"] = settings.es_ca_certs
    if not settings.es_verify_certs:
        # Loud once, instead of urllib3's warning on every request.
        log.warning(
            "TLS certificate verification is OFF for %s (ARTICLE_ETL_ES_VERIFY_CERTS=false): "
            "anyone on the network path can read the credentials; prefer "
            "ARTICLE_ETL_ES_CA_CERTS",
            url,
        )
        options["ssl_show_warn"] = False
    return options


def _api_key(raw: str) -> str | tuple[str, str]:
    # "id:api_key" as printed by Kibana's "Create API key", or the base64 "encoded" form.
    if ":" in raw:
        key_id, key = raw.split(":", 1)
        return key_id, key
    return raw


# --------------------------------------------------------------------------- errors


@contextmanager
def es_errors(what: str, url: str | None = None) -> Iterator[None]:
    """Translate client exceptions into the index errors the pipeline and CLI understand.

    Messages are one line, carry the redacted URL at most, and never the request headers."""
    where = f" at {redact_url(url)}" if url else ""
    try:
        yield
    except EsSSLError as exc:
        raise IndexSetupError(
            f"TLS error talking to Elasticsearch{where} while {what}: {_short(exc)} "
            "(set ARTICLE_ETL_ES_CA_CERTS to the cluster's CA certificate)"
        ) from None
    except EsConnectionError as exc:
        raise TransientIndexError(
            f"cannot reach Elasticsearch{where} ({connection_reason(exc)}) while {what}"
        ) from None
    except UnsupportedProductError:
        raise IndexSetupError(
            f"the server{where} is not Elasticsearch (no X-Elastic-Product header)"
        ) from None
    except AuthenticationException:
        raise IndexSetupError(
            f"Elasticsearch{where} refused the credentials (401) while {what}: check "
            "ARTICLE_ETL_ES_API_KEY or ARTICLE_ETL_ES_USERNAME/ARTICLE_ETL_ES_PASSWORD"
        ) from None
    except AuthorizationException as exc:
        raise IndexSetupError(
            f"Elasticsearch{where} denied {what} (403): {_api_reason(exc)}"
        ) from None
    except ApiError as exc:
        raise _api_error(exc, what, where) from None
    except EsTransportError as exc:  # timeouts after retries, serialization problems
        raise TransientIndexError(
            f"Elasticsearch{where} failed while {what}: {_short(exc)}"
        ) from None


def connection_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words ("connection refused", "timed out"), instead
    of the client's nested repr of urllib3's exceptions."""
    text = "\n".join(
        [str(getattr(exc, "message", "")), str(exc), repr(exc.__cause__ or exc.__context__)]
    )
    errno = re.search(r"\[Errno -?\d+\] ([^)'\"\]\n]+)", text)
    if errno:
        return errno.group(1).strip().rstrip(".").lower()
    if "timed out" in text.lower() or isinstance(exc, ConnectionTimeout):
        return "timed out"
    if "ssl" in text.lower() or "certificate" in text.lower():
        return "TLS handshake failed"
    return _short(text, 120)


def check_reachable(client: Elasticsearch, url: str, timeout: float) -> None:
    """One quick request without retries, so that a stopped or unreachable cluster is reported
    at once ("cannot reach Elasticsearch at URL (connection refused)") rather than after the
    transport's retries and backoff. Any HTTP answer, even an error, means it is reachable."""
    try:
        client.options(max_retries=0, request_timeout=timeout).cluster.health()
    except (EsConnectionError, ConnectionTimeout) as exc:
        raise TransientIndexError(
            f"cannot reach Elasticsearch at {redact_url(url)} ({connection_reason(exc)})"
        ) from None
    except (ApiError, EsTransportError):
        pass  # it answered: authentication and the like are reported by the real request


def _api_error(exc: ApiError, what: str, where: str) -> IndexError_:
    if exc.status_code == 429 or exc.status_code >= 500:
        return TransientIndexError(
            f"Elasticsearch{where} kept answering {exc.status_code} while {what} "
            f"(after retries): {_api_reason(exc)}"
        )
    if isinstance(exc, NotFoundError) and error_type(exc.body) == "index_not_found_exception":
        return IndexSetupError(f"index or alias missing{where} ({_api_reason(exc)}): {SETUP_HINT}")
    return IndexError_(f"Elasticsearch{where} error while {what}: {_api_reason(exc)}")


def error_type(body: Any) -> str:
    """The ``error.type`` of an Elasticsearch error body ("" when it has none)."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("type", ""))
    return ""


def _api_reason(exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return error_reason(body["error"])
    return f"status {exc.status_code}: {exc.message}"


def error_reason(error: Any) -> str:
    """ES's error object as ``type: reason`` (+ the root cause's), e.g. for a rejected doc."""
    if not isinstance(error, dict):
        return _short(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason"):
        text += f" (caused by {cause.get('type', 'error')}: {cause['reason']})"
    return text


def _short(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
