"""Index backends behind one interface: ``open_backend(settings)`` picks one by ``settings.index``:
a file path selects the embedded SQLite FTS5 index, an http(s) URL Elasticsearch."""

from __future__ import annotations

from etl.backends.base import IndexBackend
from etl.settings import Settings


def open_backend(settings: Settings) -> IndexBackend:
    if settings.uses_elasticsearch:
        from etl.backends.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend.from_settings(settings)
    from etl.backends.sqlite import SqliteBackend

    backend = SqliteBackend(settings.index)
    backend.search_timeout = settings.search_timeout
    return backend
