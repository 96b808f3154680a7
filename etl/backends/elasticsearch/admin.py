"""Elasticsearch administration: the index template, versioned indices behind aliases, reindexing.

Layout (prefix = ``settings.es_alias``, default ``articles``)::

    articles-v1, articles-v2, ...   concrete indices, created from the index template
    articles                        read alias (searches, get, count)
    articles-write                  write alias (bulk indexing), is_write_index on one index

The index template is generated from ``mappings/fields.json`` (the one field definition) by
``build_index_template`` and committed as ``mappings/index-template.json``; a test checks the two
are equal. Regenerate with ``article-etl es template --write``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch
from elasticsearch.helpers import scan, streaming_bulk

from etl.backends.base import IndexError_, IndexSetupError
from etl.backends.elasticsearch.client import (
    build_client,
    error_reason,
    es_errors,
    read_alias,
    write_alias,
)
from etl.schema import Field, load_schema, mappings_dir
from etl.settings import Settings

log = logging.getLogger(__name__)

TEMPLATE_FILE = "index-template.json"
# Above the built-in templates (priority 100) so nothing else shapes our indices.
TEMPLATE_PRIORITY = 200
# Lucene refuses keyword terms over 32766 bytes, which would reject the whole document; longer
# values are kept in _source but not indexed. 4096 characters is at most 16 KiB of UTF-8.
KEYWORD_IGNORE_ABOVE = 4096
# Sortable copy of the title: long titles are cut rather than dropped from sorting.
TITLE_SORT_IGNORE_ABOVE = 512


# --------------------------------------------------------------------------- names


def template_name(settings: Settings) -> str:
    return f"{settings.es_alias}-template"


def index_pattern(settings: Settings) -> str:
    return f"{settings.es_alias}-v*"


def index_name(settings: Settings, version: int) -> str:
    return f"{settings.es_alias}-v{version}"


def index_version(settings: Settings, name: str) -> int | None:
    """The version number of a concrete index name, or None when it is not one of ours."""
    match = re.fullmatch(re.escape(settings.es_alias) + r"-v(\d+)", name)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------- template


def _field_mapping(f: Field) -> dict[str, Any]:
    if f.type == "text":
        mapping: dict[str, Any] = {
            "type": "text",
            "analyzer": "english",
            # Unstemmed words: phrase-ish queries and prefixes (stems break "organi*").
            "fields": {"exact": {"type": "text", "analyzer": "standard"}},
        }
        if f.name == "title":
            mapping["fields"]["keyword"] = {
                "type": "keyword",
                "normalizer": "sortable",
                "ignore_above": TITLE_SORT_IGNORE_ABOVE,
            }
        return mapping
    if f.type == "keyword":
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if f.type == "nested":
        return {
            "type": "nested",
            "properties": {name: _field_mapping(sub) for name, sub in f.properties.items()},
        }
    # date, integer, float, boolean: the ES type of the same name (dates are ISO 8601, which
    # the default date format strict_date_optional_time||epoch_millis accepts).
    return {"type": f.type}


def build_mappings() -> dict[str, Any]:
    schema = load_schema()
    return {
        # A document with a field not in fields.json is refused, not silently mapped.
        "dynamic": "strict",
        "_meta": {"schema_version": schema.version, "source": "mappings/fields.json"},
        "properties": {name: _field_mapping(f) for name, f in schema.fields.items()},
    }


def build_index_template(settings: Settings) -> dict[str, Any]:
    """The composable index template of the article indices, from mappings/fields.json."""
    schema = load_schema()
    return {
        "index_patterns": [index_pattern(settings)],
        "priority": TEMPLATE_PRIORITY,
        "version": schema.version,
        "_meta": {
            "description": "article-etl articles; generated from mappings/fields.json",
            "generated_by": "article-etl es template --write",
        },
        "template": {
            "settings": {
                "number_of_shards": 1,
                # 0 replicas on a one-node cluster (green health), 1 as soon as there are two.
                "auto_expand_replicas": "0-1",
                "analysis": {
                    "normalizer": {
                        "sortable": {"type": "custom", "filter": ["lowercase", "asciifolding"]}
                    }
                },
            },
            "mappings": build_mappings(),
        },
    }


def template_path() -> Path:
    return mappings_dir() / TEMPLATE_FILE


def render_template(settings: Settings) -> str:
    return json.dumps(build_index_template(settings), indent=2, sort_keys=False) + "\n"


def write_template_file(settings: Settings, path: Path | None = None) -> Path:
    target = path or template_path()
    target.write_text(render_template(settings), encoding="utf-8")
    return target


def template_file_is_current(path: Path | None = None) -> bool:
    """Whether the committed file equals the template generated now (default alias prefix)."""
    target = path or template_path()
    return target.is_file() and target.read_text(encoding="utf-8") == render_template(Settings())


# --------------------------------------------------------------------------- operations


@contextmanager
def _client_for(settings: Settings, client: Elasticsearch | None) -> Iterator[Elasticsearch]:
    """The caller's client, or one of our own that is closed afterwards."""
    if client is not None:
        yield client
        return
    own = build_client(settings)
    try:
        yield own
    finally:
        own.close()


@dataclass(slots=True)
class SetupReport:
    """What `es setup` did: the template, the index and the alias it created or found."""

    template: str
    index: str
    created_index: bool
    read_alias: str
    write_alias: str
    actions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class ReindexReport:
    """What a reindex did: the new index, how many documents it copied and by which method."""

    source: str
    dest: str
    docs_copied: int
    took_ms: int
    method: str = "_reindex"  # or "scroll+bulk" on a cluster without the reindex module
    old_index_kept: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def put_template(client: Elasticsearch, settings: Settings) -> None:
    body = build_index_template(settings)
    client.indices.put_index_template(
        name=template_name(settings),
        index_patterns=body["index_patterns"],
        priority=body["priority"],
        version=body["version"],
        meta=body["_meta"],
        template=body["template"],
    )


def alias_targets(client: Elasticsearch, alias: str) -> dict[str, dict[str, Any]]:
    """index name -> alias properties, for the indices behind ``alias`` (empty: no alias)."""
    if not client.indices.exists_alias(name=alias):
        return {}
    found = client.indices.get_alias(name=alias).body
    return {index: props.get("aliases", {}).get(alias, {}) for index, props in found.items()}


def current_write_index(client: Elasticsearch, settings: Settings) -> str | None:
    targets = alias_targets(client, write_alias(settings))
    for index, props in targets.items():
        if props.get("is_write_index"):
            return index
    # An alias over a single index is its write index even without the flag.
    return next(iter(targets)) if len(targets) == 1 else None


def versioned_indices(client: Elasticsearch, settings: Settings) -> list[str]:
    found = client.indices.get_alias(index=index_pattern(settings)).body
    names = [n for n in found if index_version(settings, n) is not None]
    return sorted(names, key=lambda n: index_version(settings, n) or 0)


def setup(settings: Settings, client: Elasticsearch | None = None) -> SetupReport:
    """Idempotent: (re)put the template; create the first index and both aliases if missing."""
    with _client_for(settings, client) as client, es_errors("setting up the index", settings.index):
        put_template(client, settings)
        actions = [f"put index template {template_name(settings)}"]
        existing = current_write_index(client, settings)
        if existing is not None:
            _ensure_read_alias(client, settings, existing, actions)
            return SetupReport(
                template=template_name(settings),
                index=existing,
                created_index=False,
                read_alias=read_alias(settings),
                write_alias=write_alias(settings),
                actions=actions,
            )
        versions = [index_version(settings, n) or 0 for n in versioned_indices(client, settings)]
        name = index_name(settings, max(versions, default=0) + 1)
        client.indices.create(
            index=name,
            aliases={read_alias(settings): {}, write_alias(settings): {"is_write_index": True}},
        )
        actions.append(f"created index {name} with aliases")
        return SetupReport(
            template=template_name(settings),
            index=name,
            created_index=True,
            read_alias=read_alias(settings),
            write_alias=write_alias(settings),
            actions=actions,
        )


def _ensure_read_alias(
    client: Elasticsearch, settings: Settings, index: str, actions: list[str]
) -> None:
    if index in alias_targets(client, read_alias(settings)):
        return
    client.indices.put_alias(index=index, name=read_alias(settings))
    actions.append(f"added read alias {read_alias(settings)} to {index}")


def reindex(settings: Settings, client: Elasticsearch | None = None) -> ReindexReport:
    """Copy the current index into a new version, then move both aliases in one request.

    Searches keep using the read alias on the old index until the atomic swap; the old index
    is kept (delete it once the new one is checked). Do not run ingest at the same time:
    documents written to the old index after the copy started would not be in the new one.
    """
    with _client_for(settings, client) as client, es_errors("reindexing", settings.index):
        source = current_write_index(client, settings)
        if source is None:
            raise _setup_error(settings)
        put_template(client, settings)  # the new index gets the current mappings
        versions = [index_version(settings, n) or 0 for n in versioned_indices(client, settings)]
        dest = index_name(settings, max(versions, default=0) + 1)
        client.indices.create(index=dest)
        copied, took_ms, method = _copy_documents(client, source, dest)
        client.indices.update_aliases(actions=_swap_actions(settings, source, dest))
        return ReindexReport(
            source=source, dest=dest, docs_copied=copied, took_ms=took_ms, method=method
        )


def _copy_documents(client: Elasticsearch, source: str, dest: str) -> tuple[int, int, str]:
    """Copy every document of ``source`` into ``dest``: (copied, took_ms, method).

    The server-side ``_reindex`` API when the cluster has it; a cluster without the reindex
    module answers 405 (its path then reads as an index name), and there the documents are
    copied from here with scroll + bulk, which only needs the core APIs. Either way a failed
    document stops the reindex before the aliases move."""
    started = time.monotonic()
    try:
        result = client.reindex(
            source={"index": source},
            dest={"index": dest, "op_type": "create"},
            wait_for_completion=True,
            refresh=True,
        ).body
    except ApiError as exc:
        if exc.status_code != 405:
            raise
        log.info("no _reindex API here: copying %s -> %s with scroll + bulk", source, dest)
        return _copy_client_side(client, source, dest), _ms_since(started), "scroll+bulk"
    failures = result.get("failures") or []
    if failures:
        raise IndexError_(
            f"reindex {source} -> {dest} failed for {len(failures)} document(s), "
            f"first: {_failure_reason(failures[0])}; aliases not moved"
        )
    copied = int(result.get("created", 0)) + int(result.get("updated", 0))
    return copied, int(result.get("took", 0)), "_reindex"


def _copy_client_side(client: Elasticsearch, source: str, dest: str) -> int:
    actions = (
        {"_op_type": "create", "_index": dest, "_id": hit["_id"], "_source": hit["_source"]}
        for hit in scan(client, index=source, query={"query": {"match_all": {}}}, size=500)
    )
    copied = 0
    for ok, item in streaming_bulk(client, actions, raise_on_error=False, chunk_size=500):
        if not ok:
            info = next(iter(item.values()))
            raise IndexError_(
                f"reindex {source} -> {dest} failed for document {info.get('_id')}: "
                f"{error_reason(info.get('error'))}; aliases not moved"
            )
        copied += 1
    client.indices.refresh(index=dest)
    return copied


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _swap_actions(settings: Settings, source: str, dest: str) -> list[dict[str, Any]]:
    # One _aliases request is atomic: readers never see zero or two indices behind the alias.
    return [
        {"remove": {"index": source, "alias": read_alias(settings)}},
        {"remove": {"index": source, "alias": write_alias(settings)}},
        {"add": {"index": dest, "alias": read_alias(settings)}},
        {"add": {"index": dest, "alias": write_alias(settings), "is_write_index": True}},
    ]


def _failure_reason(failure: dict[str, Any]) -> str:
    cause = failure.get("cause") or {}
    return f"{cause.get('type', 'error')}: {cause.get('reason', failure)}"


def _setup_error(settings: Settings) -> IndexSetupError:
    return IndexSetupError(
        f"write alias {write_alias(settings)!r} not found: run `article-etl es setup` first"
    )


def status(settings: Settings, client: Elasticsearch | None = None) -> dict[str, Any]:
    """Cluster health, our versioned indices with doc counts, and where the aliases point."""
    with (
        _client_for(settings, client) as client,
        es_errors("reading the cluster status", settings.index),
    ):
        health = client.cluster.health().body
        indices = []
        for name in versioned_indices(client, settings):
            indices.append({"index": name, "docs": int(client.count(index=name).body["count"])})
        return {
            "cluster": health.get("cluster_name"),
            "health": health.get("status"),
            "template": template_name(settings),
            "template_installed": bool(
                client.indices.exists_index_template(name=template_name(settings))
            ),
            "indices": indices,
            "aliases": {
                read_alias(settings): sorted(alias_targets(client, read_alias(settings))),
                write_alias(settings): sorted(alias_targets(client, write_alias(settings))),
            },
        }
