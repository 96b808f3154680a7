"""Fixtures of the backends' tests: the loopback Elasticsearch double (``es``), settings that
point at it (``es_settings``) and a backend set up on it (``es_backend``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from etl.backends.elasticsearch import admin as es_admin
from etl.backends.elasticsearch.backend import ElasticsearchBackend
from etl.settings import Settings
from tests.es_double import EsDouble


@pytest.fixture
def es() -> Iterator[EsDouble]:
    """The loopback Elasticsearch stand-in (records requests, injects faults; never searches)."""
    with EsDouble() as double:
        yield double


@pytest.fixture
def es_settings(es: EsDouble) -> Settings:
    """Settings on the double, with retries enough for its fault scenarios and no real backoff."""
    return Settings(index=es.url, es_retry_initial_backoff=0.001, es_max_retries=4)


@pytest.fixture
def es_backend(es_settings: Settings) -> Iterator[ElasticsearchBackend]:
    """An ElasticsearchBackend set up against the stand-in."""
    es_admin.setup(es_settings)
    backend = ElasticsearchBackend.from_settings(es_settings)
    yield backend
    backend.close()
