"""The options every command shares (--index, --json) and what they open: the settings and
the index, with their failures as one line and an exit code (2: bad usage, 1: the rest)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import psycopg
import typer

from etl.cli.output import fail, redact
from etl.settings import Settings

if TYPE_CHECKING:
    from etl.backends.base import IndexBackend

MAX_HITS = 10_000  # hits per page, as Elasticsearch's default max_result_window

IndexOpt = Annotated[
    str | None,
    typer.Option(
        "--index",
        metavar="PATH|URL",
        help="Index target: a file path (embedded SQLite index) or an "
        "http(s) URL (Elasticsearch). Default: $ARTICLE_ETL_INDEX or data/articles.db.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def load_settings(index: str | None, **overrides: Any) -> Settings:
    try:
        settings = Settings.from_env().with_overrides(index=index, **overrides)
    except ValueError as exc:
        fail(str(exc), code=2)
    _check_index_target(settings.index, "--index" if index is not None else "ARTICLE_ETL_INDEX")
    return settings


def _check_index_target(target: str, given: str) -> None:
    """A URL that cannot be an Elasticsearch cluster is a usage error, named without secrets."""
    scheme, sep, _ = target.partition("://")
    if not sep:
        return
    shown = f"{given} {redact(target)}"
    if scheme.lower() not in ("http", "https"):
        fail(f"{shown}: give a file path or an http(s):// Elasticsearch URL", code=2)
    parts = urlsplit(target)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        port = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        fail(f"{shown}: not a valid URL (port {port!r} is not a number)", code=2)
    if not parts.hostname:
        fail(f"{shown}: not a valid URL (no host name)", code=2)


@contextmanager
def index_errors(settings: Settings) -> Iterator[None]:
    """Index failures as one line: not an index (exit 2), unreachable or broken (exit 1)."""
    from etl.backends.base import IndexError_, NotAnIndexError

    try:
        yield
    except NotAnIndexError as exc:
        fail(str(exc), code=2)
    except IndexError_ as exc:
        fail(str(exc))
    except sqlite3.DatabaseError as exc:  # locked for too long, corrupt, disk full...
        fail(f"the index {redact(settings.index)} failed: {exc}")
    except psycopg.Error as exc:  # a ledger in PostgreSQL
        fail(f"the ledger {redact(settings.ledger_location)} failed: {exc}")


def open_index(settings: Settings) -> IndexBackend:
    from etl.backends import open_backend

    with index_errors(settings):
        return open_backend(settings)


def require_index(settings: Settings) -> None:
    """The embedded index must exist (looking must not create an empty one) and be an index."""
    from etl.backends.sqlite.storage import check_index_file

    if settings.uses_elasticsearch:
        return
    if not Path(settings.index).exists():
        fail(
            f"no index at {settings.index}: run `article-etl ingest PATH` first "
            "(or set --index / ARTICLE_ETL_INDEX)"
        )
    with index_errors(settings):
        check_index_file(settings.index)
