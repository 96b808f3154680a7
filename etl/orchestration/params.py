"""Trigger parameters of the DAGs and the small, pure checks behind them.

The DAG files build their ``params`` from here so that the trigger form (titles, descriptions,
limits) is defined once, and so that the checks can be unit-tested without Airflow. Airflow
validates a trigger's conf against these JSON schemas before it creates the run; what a schema
cannot express (does this path exist? unknown keys?) is checked by the first task of each DAG
with the functions below.

Optional parameters are typed ``["null", "string"]`` (``["null", "array"]`` for lists) with
``None`` as default when there is nothing to show, as Airflow's params documentation says: the
trigger form marks a field whose type does not allow ``null`` as required, so an empty
``"string"`` default kept its Trigger button disabled. ``None``, like an empty value, means "not
given" to the tasks.

Nothing heavy is imported here: DAG files import this module at parse time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from etl.settings import Settings

if TYPE_CHECKING:
    from airflow.sdk import Asset, Param

# The logical dataset both ingest DAGs update and downstream DAGs can be scheduled on. One
# asset whichever backend is behind it: consumers care that "the article index changed".
INDEX_ASSET_URI = "article-etl://index"
INDEX_ASSET_NAME = "article_index"

DEFAULT_BATCH_SIZE = 25
MIN_BATCH_SIZE = 1
MAX_BATCH_SIZE = 1000
# Airflow refuses to expand a mapped task into more than [core] max_map_length (1024) task
# instances; we stay well under it by growing the batch size when there are many inputs.
MAX_BATCHES = 256

_SECTION_INPUTS = "What to ingest"
_SECTION_TARGET = "Where and how"

FILE_PARAM_KEYS = ("paths", "index", "reprocess", "dry_run", "batch_size")
URL_PARAM_KEYS = (
    "urls",
    "url_list",
    "feeds",
    "sitemaps",
    "index",
    "reprocess",
    "dry_run",
    "batch_size",
)
REINDEX_PARAM_KEYS = ("index",)

_HTTP_URL_PATTERN = r"^https?://[^\s/]+"


def readable_roots(settings: Settings) -> list[str]:
    """The folders whose files a triggered run may read: the inbox, and the folders of
    ``ARTICLE_ETL_PATH_ROOTS``. Anyone who can trigger a DAG can name ``paths``; without this,
    any file the worker can read could be indexed and searched."""
    return [settings.inbox, *settings.path_roots]


def paths_outside(paths: Sequence[str], roots: Sequence[str]) -> list[str]:
    """The paths that are not inside one of ``roots`` once resolved (symlinks followed, so a
    link in the inbox to /etc is outside); a path that names ``..`` is refused as it is."""
    real_roots = [os.path.realpath(os.path.expanduser(r)) for r in roots]
    outside = []
    for path in paths:
        real = os.path.realpath(os.path.expanduser(path))
        inside = any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in real_roots)
        if ".." in Path(path).parts or not inside:
            outside.append(path)
    return outside


def index_asset() -> Asset:
    from airflow.sdk import Asset

    return Asset(name=INDEX_ASSET_NAME, uri=INDEX_ASSET_URI)


def _index_param() -> Param:
    from airflow.sdk import Param

    return Param(
        None,
        type=["null", "string"],
        title="Index",
        description=(
            "Leave empty for the configured index (the Airflow connection elasticsearch_default "
            "when defined, else ARTICLE_ETL_INDEX). A file path selects an embedded SQLite "
            "index, an http(s) URL an Elasticsearch cluster."
        ),
        section=_SECTION_TARGET,
    )


def _common_run_params() -> dict[str, Param]:
    from airflow.sdk import Param

    return {
        "index": _index_param(),
        "reprocess": Param(
            False,
            type="boolean",
            title="Reprocess",
            description="Process inputs again even when the ledger says they are unchanged.",
            section=_SECTION_TARGET,
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Extract and enrich but write nothing to the index or the ledger.",
            section=_SECTION_TARGET,
        ),
        "batch_size": Param(
            DEFAULT_BATCH_SIZE,
            type="integer",
            minimum=MIN_BATCH_SIZE,
            maximum=MAX_BATCH_SIZE,
            title="Batch size",
            description=(
                f"Inputs per parallel task ({MIN_BATCH_SIZE}-{MAX_BATCH_SIZE}). Each batch is "
                "one mapped task instance with its own retries."
            ),
            section=_SECTION_TARGET,
        ),
    }


def file_params() -> dict[str, Param]:
    from airflow.sdk import Param

    return {
        "paths": Param(
            None,
            type=["null", "array"],
            items={"type": "string", "minLength": 1},
            title="Files or folders",
            description=(
                "Article files or folders to ingest, one per line (absolute, or relative to the "
                "worker's working directory). Empty: new and changed files in the inbox "
                "(ARTICLE_ETL_INBOX)."
            ),
            section=_SECTION_INPUTS,
        ),
        **_common_run_params(),
    }


def url_params() -> dict[str, Param]:
    from airflow.sdk import Param

    settings = Settings.from_env()
    url_items = {"type": "string", "pattern": _HTTP_URL_PATTERN}
    return {
        "urls": Param(
            None,
            type=["null", "array"],
            items=url_items,
            title="URLs",
            description="Article URLs to fetch, one per line (http:// or https://).",
            section=_SECTION_INPUTS,
        ),
        "url_list": Param(
            settings.url_list,
            type=["null", "string"],
            title="URL list file",
            description=(
                "A text file on the worker with one URL per line (# starts a comment). "
                "Default: ARTICLE_ETL_URL_LIST. Empty: no list file."
            ),
            section=_SECTION_INPUTS,
        ),
        "feeds": Param(
            list(settings.feeds) or None,
            type=["null", "array"],
            items=url_items,
            title="RSS/Atom feeds",
            description="Feed URLs whose entries are fetched (default: ARTICLE_ETL_FEEDS).",
            section=_SECTION_INPUTS,
        ),
        "sitemaps": Param(
            list(settings.sitemaps) or None,
            type=["null", "array"],
            items=url_items,
            title="Sitemaps",
            description="Sitemap URLs whose pages are fetched (default: ARTICLE_ETL_SITEMAPS).",
            section=_SECTION_INPUTS,
        ),
        **_common_run_params(),
    }


def reindex_params() -> dict[str, Param]:
    return {"index": _index_param()}


# --- checks a JSON schema cannot express -------------------------------------------------------


def unknown_keys(conf: Mapping[str, Any] | None, known: Iterable[str]) -> list[str]:
    """Keys of a trigger's conf that are no parameter of the DAG.

    Airflow accepts unknown keys silently, so a typo (``path`` for ``paths``) would run the
    DAG with the defaults; we refuse it instead."""
    allowed = set(known)
    return sorted(k for k in (conf or {}) if k not in allowed)


def missing_paths(paths: Sequence[str]) -> list[str]:
    return [p for p in paths if not Path(p).expanduser().exists()]


def is_http_url(value: str) -> bool:
    parts = urlsplit(value.strip())
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def bad_urls(urls: Sequence[str]) -> list[str]:
    return [u for u in urls if not is_http_url(u)]


def read_url_list(path: str) -> list[str]:
    """URLs of a list file: one a line; blank lines and lines starting with ``#`` are ignored
    (only whole-line comments: a ``#`` inside a URL is its fragment)."""
    lines = Path(path).expanduser().read_text(encoding="utf-8").splitlines()
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def split_batches(
    items: Sequence[str], size: int, max_batches: int = MAX_BATCHES
) -> list[list[str]]:
    """Consecutive batches of ``size`` items; fewer, larger batches when there would be more
    than ``max_batches`` (Airflow caps how many task instances one mapped task may have)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    if not items:
        return []
    count = -(-len(items) // size)
    if count > max_batches:
        size = -(-len(items) // max_batches)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
