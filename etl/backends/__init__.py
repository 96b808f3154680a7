"""Index backends behind one interface: ``open_backend(settings)`` picks one by ``settings.index``:
a file path selects the embedded SQLite FTS5 index, an http(s) URL Elasticsearch."""

from __future__ import annotations

from etl.backends.base import IndexBackend
from etl.settings import Settings


def open_backend(settings: Settings) -> IndexBackend:
    """The backend ``settings.index`` names; only its module is imported."""
    if settings.uses_elasticsearch:
        from etl.backends.elasticsearch.backend import ElasticsearchBackend

        return ElasticsearchBackend.from_settings(settings)
    from etl.backends.sqlite.backend import SqliteBackend

    backend = SqliteBackend(settings.index)
    backend.search_timeout = settings.search_timeout
    return backend
