"""The ``article-etl`` command: ingest, search, show, extract, export, status, stats (and ``es``,
``kibana``). Exit codes: 0 ok, 1 the work failed (index unreachable...), 2 bad usage or input.

Every error is one line on stderr (``error: ...``) and an exit code, never a traceback, and
never a password: URLs in messages lose their ``user:password@``."""

from __future__ import annotations

import calendar
import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from etl.cli_help import PlainHelpCommand, PlainHelpGroup
from etl.settings import Settings, debug_requested

try:  # typer >= 0.2x carries its own click: its usage errors derive from TyperException
    from typer import TyperException as _ClickError
except ImportError:  # pragma: no cover - older typer on click
    from click import ClickException as _ClickError  # type: ignore[assignment]

if TYPE_CHECKING:
    from etl.backends.base import IndexBackend
    from etl.outcomes import InputOutcome, ProgressCallback, RunReport

MAX_HITS = 10_000  # hits per page, as Elasticsearch's default max_result_window
MAX_TABLE_ROWS = 200  # inputs listed after an ingest; --json has them all
ENTITY_LABELS = {
    "person": "people",
    "organization": "organizations",
    "location": "locations",
    "group": "groups",
    "event": "events",
    "product": "products",
    "work": "works",
    "law": "laws",
}

out = Console()
err = Console(stderr=True)


# --- one-line errors, help without Python type names ------------------------------------------

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#]*@")


def redact(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it removed. Works on URLs that do not
    parse (``settings.redact_url`` needs a valid port), which is when they end up in errors."""
    return _USERINFO.sub(r"\1", text)


def _error_line(message: str) -> None:
    # One line: an error in a log must be greppable; soft_wrap: never hard-wrapped either.
    line = " ".join(redact(message).split())
    err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> NoReturn:
    _error_line(message)
    raise typer.Exit(code)


class _Group(PlainHelpGroup):
    """The top-level command: runs a subcommand and turns whatever goes wrong into one line on
    stderr and an exit code (2 for usage errors, as click; 1 for the rest)."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        global out, err
        # Fresh consoles for each run: they read COLUMNS and whether stdout is a terminal now.
        out, err = Console(), Console(stderr=True)
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except _ClickError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                # Typer's rich help has printed itself already; plain click's has not.
                if exc.format_message().strip():
                    typer.echo(exc.format_message())
            else:
                _error_line(exc.format_message().rstrip(".") + _help_hint(exc))
            code = exc.exit_code
        except typer.Abort:
            _error_line("aborted")
            code = 1
        except Exception as exc:
            if debug_requested():
                raise
            _error_line(
                f"unexpected {type(exc).__name__}: {exc} (ARTICLE_ETL_DEBUG=1 shows the traceback)"
            )
            code = 1
        sys.exit(code if isinstance(code, int) else 0)


def _help_hint(exc: Exception) -> str:
    path = getattr(getattr(exc, "ctx", None), "command_path", None)
    return f" (see {path} --help)" if path else ""


app = typer.Typer(
    cls=_Group,
    help="Turn article files and web pages into a searchable, faceted index.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("article-etl")
    except PackageNotFoundError:
        from etl import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"article-etl {_version()}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Turn article files and web pages into a searchable, faceted index."""


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


# --- settings and the index -------------------------------------------------------------------


def _settings(index: str | None, **overrides: Any) -> Settings:
    try:
        settings = Settings.from_env().with_overrides(index=index, **overrides)
    except ValueError as exc:
        _fail(str(exc), code=2)
    _check_index_target(settings.index, "--index" if index is not None else "ARTICLE_ETL_INDEX")
    return settings


def _check_index_target(target: str, given: str) -> None:
    """A URL that cannot be an Elasticsearch cluster is a usage error, named without secrets."""
    scheme, sep, _ = target.partition("://")
    if not sep:
        return
    shown = f"{given} {redact(target)}"
    if scheme.lower() not in ("http", "https"):
        _fail(f"{shown}: give a file path or an http(s):// Elasticsearch URL", code=2)
    parts = urlsplit(target)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        port = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        _fail(f"{shown}: not a valid URL (port {port!r} is not a number)", code=2)
    if not parts.hostname:
        _fail(f"{shown}: not a valid URL (no host name)", code=2)


@contextmanager
def _index_errors(settings: Settings) -> Iterator[None]:
    """Index failures as one line: not an index (exit 2), unreachable or broken (exit 1)."""
    from etl.backends.base import IndexError_, NotAnIndexError

    try:
        yield
    except NotAnIndexError as exc:
        _fail(str(exc), code=2)
    except IndexError_ as exc:
        _fail(str(exc))
    except sqlite3.DatabaseError as exc:  # locked for too long, corrupt, disk full...
        _fail(f"the index {redact(settings.index)} failed: {exc}")


def _open_backend(settings: Settings) -> IndexBackend:
    from etl.backends import open_backend

    with _index_errors(settings):
        return open_backend(settings)


def _require_index(settings: Settings) -> None:
    """The embedded index must exist (looking must not create an empty one) and be an index."""
    from etl.backends.sqlite.storage import check_index_file

    if settings.uses_elasticsearch:
        return
    if not Path(settings.index).exists():
        _fail(
            f"no index at {settings.index}: run `article-etl ingest PATH` first "
            "(or set --index / ARTICLE_ETL_INDEX)"
        )
    with _index_errors(settings):
        check_index_file(settings.index)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _shown_path(source: str) -> str:
    """Inputs under the current folder as relative paths: shorter tables, same meaning."""
    if "://" in source:
        return redact(source)
    try:
        return str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        return source


# --- ingest -----------------------------------------------------------------------------------


@app.command(cls=PlainHelpCommand)
def ingest(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH|URL", help="Files, directories or http(s) URLs."),
    ] = None,
    index: IndexOpt = None,
    include: Annotated[
        list[str] | None,
        typer.Option(metavar="GLOB", help="Only files matching this glob (repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(metavar="GLOB", help="Skip files matching this glob (repeatable)."),
    ] = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(
            metavar="URL", help="RSS/Atom feed URL whose articles to ingest (repeatable)."
        ),
    ] = None,
    sitemap: Annotated[
        list[str] | None,
        typer.Option(metavar="URL", help="Sitemap URL whose pages to ingest (repeatable)."),
    ] = None,
    url_list: Annotated[
        list[Path] | None,
        typer.Option(
            "--url-list",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="File with one URL per line (repeatable).",
        ),
    ] = None,
    reprocess: Annotated[
        bool, typer.Option(help="Process inputs even if unchanged since last time.")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Extract and enrich, but write nothing.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(metavar="N", min=1, help="Worker processes (default: CPU count)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest article files, folders and URLs into the index.

    A path that does not exist is an error (exit 2) and nothing is ingested. --include and
    --exclude leaving no file is not: the command says so and records an empty run.
    """
    from etl.backends.base import NotAnIndexError
    from etl.errors import SetupError, TransientError
    from etl.pipeline import ingest as run_ingest

    if not (inputs or feed or sitemap or url_list):
        _fail("nothing to ingest: give files, directories or URLs (see --help)", code=2)
    settings = _settings(
        index,
        workers=workers,
        include=tuple(include) if include else None,
        exclude=tuple(exclude) if exclude else None,
    )
    urls = [i for i in inputs or () if i.startswith(("http://", "https://"))]
    paths = [i for i in inputs or () if i not in urls]
    missing = [p for p in paths if not Path(p).expanduser().exists()]
    if missing:
        _fail(f"no such file or directory: {', '.join(missing)}", code=2)
    if paths and not (urls or feed or sitemap or url_list):
        _say_when_nothing_matches(paths, settings)
    _check_index_files(settings)  # the ledger is opened even by a dry run
    bar = _progress_bar(paths, settings) if not as_json and err.is_terminal else nullcontext()
    try:
        with bar as advance:
            report = run_ingest(
                inputs or [],
                settings,
                reprocess=reprocess,
                dry_run=dry_run,
                feeds=feed or (),
                sitemaps=sitemap or (),
                url_lists=[str(p) for p in url_list or ()],
                on_outcome=advance,
            )
    except TransientError as exc:
        _fail(
            f"{exc} (nothing more was recorded; run the same command again to index the "
            "pending inputs)"
        )
    except NotAnIndexError as exc:
        _fail(str(exc), code=2)
    except SetupError as exc:
        _fail(str(exc))
    except sqlite3.DatabaseError as exc:
        _fail(f"the index or ledger failed: {exc}")
    except RuntimeError as exc:
        _fail(str(exc))
    if as_json:
        _print_json(report.as_dict())
        return
    _outcome_table(report)


def _say_when_nothing_matches(paths: list[str], settings: Settings) -> None:
    """One line on stderr when the folders hold no article file (or none the globs let
    through): a mistyped glob should not look like a quiet inbox. Not an error (exit 0)."""
    from etl.sources import ARTICLE_SUFFIXES, discover

    if discover(paths, settings.include, settings.exclude):
        return
    where = ", ".join(paths)
    every = discover(paths)
    if every:
        globs = [f"--include {g!r}" for g in settings.include]
        globs += [f"--exclude {g!r}" for g in settings.exclude]
        message = (
            f"{' '.join(globs)} matched none of the {len(every)} article file(s) in {where}: "
            "nothing to ingest"
        )
    else:
        message = (
            f"no article files in {where} (they end in {', '.join(ARTICLE_SUFFIXES)}): "
            "nothing to ingest"
        )
    err.print(f"[yellow]note:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _check_index_files(settings: Settings) -> None:
    """Refuse an --index (or ledger) that is not one before anything is written into it."""
    from etl.backends.sqlite.storage import check_index_file

    with _index_errors(settings):
        if not settings.uses_elasticsearch:
            check_index_file(settings.index)
        check_index_file(settings.ledger_path)


@contextmanager
def _progress_bar(paths: list[str], settings: Settings) -> Iterator[ProgressCallback]:
    """A progress bar on stderr, advanced by each input's outcome (``on_outcome``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from etl.sources import discover, is_warc_file

    files = discover(paths, settings.include, settings.exclude) if paths else []
    # A web archive holds an unknown number of inputs: no total then.
    total = 0 if any(is_warc_file(f) for f in files) else len(files)
    columns = (
        TextColumn("[bold]ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as prog:
        task = prog.add_task("ingest", total=total or None, last="")

        def advance(outcome: InputOutcome) -> None:
            last = f"{outcome.outcome.value}: {Path(outcome.source).name[:40]}"
            prog.update(task, advance=1, last=escape(last))

        yield advance


def _outcome_table(report: RunReport) -> None:
    from etl.outcomes import input_rows, outcome_table, skipped_line

    rows = input_rows(report.outcomes, hide_unchanged=True)
    if rows:
        shown = [[_shown_path(row[0]), *row[1:]] for row in rows[:MAX_TABLE_ROWS]]
        out.print(f"run {report.run_id}", highlight=False)
        out.print(
            outcome_table(("input", "outcome", "detail"), shown),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        if len(rows) > MAX_TABLE_ROWS:
            out.print(f"... and {len(rows) - MAX_TABLE_ROWS} more (see --json)")
    counts = "  ".join(f"{k}: {v}" for k, v in report.counts.items())
    out.print(
        f"[bold]{counts}[/]  ({report.elapsed_s:.1f}s, index {escape(redact(report.index))})",
        highlight=False,
    )
    if report.skipped:
        out.print(escape(skipped_line(report.skipped)), highlight=False)


# --- search -----------------------------------------------------------------------------------


def _parse_filters(filters: list[str]) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for item in filters:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            _fail(f"--filter takes field=value, got {item!r}", code=2)
        parsed.setdefault(name.strip(), []).append(value.strip())
    return parsed


_DATE = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def _parse_date(value: str | None, option: str, *, end: bool) -> str | None:
    """``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` -> the first (``--from``) or last (``--to``) day
    of that period, so both backends get whole days. Anything else is a usage error."""
    if value is None:
        return None
    match = _DATE.fullmatch(value.strip())
    try:
        if match is None:
            raise ValueError
        year, month, day = int(match[1]), match[2], match[3]
        if month is None:
            found = date(year, 12, 31) if end else date(year, 1, 1)
        elif day is None:
            last = calendar.monthrange(year, int(month))[1] if 1 <= int(month) <= 12 else 0
            found = date(year, int(month), last if end else 1)
        else:
            found = date(year, int(month), int(day))
    except ValueError:
        _fail(f"{option} {value!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY", code=2)
    return found.isoformat()


@app.command(cls=PlainHelpCommand)
def search(
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY",
            help='Words (ANDed), "a phrase", prefix*, OR, NOT word or -word. Empty: everything.',
        ),
    ] = "",
    facet: Annotated[
        list[str] | None,
        typer.Option(
            "--facet",
            metavar="FIELD",
            help="Facet to count (repeatable), e.g. person, location, site.",
        ),
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            metavar="FIELD=VALUE",
            help="Only articles with this value (repeatable; same field ORs, fields AND).",
        ),
    ] = None,
    date_from: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="DATE", help="Published on or after (YYYY-MM-DD, YYYY-MM or YYYY)."
        ),
    ] = None,
    date_to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="DATE", help="Published on or before (YYYY-MM-DD, YYYY-MM or YYYY)."
        ),
    ] = None,
    histogram: Annotated[
        str | None,
        typer.Option(
            metavar="year|month|day", help="Also count articles by publication year/month/day."
        ),
    ] = None,
    size: Annotated[int, typer.Option(metavar="N", min=0, max=MAX_HITS, help="Hits to show.")] = 10,
    collapse: Annotated[
        bool,
        typer.Option(
            "--collapse",
            help="One hit per story (near-duplicate copies collapsed), with its number of copies.",
        ),
    ] = False,
    facet_size: Annotated[
        int, typer.Option(metavar="N", min=1, max=MAX_HITS, help="Values per facet.")
    ] = 10,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Full-text search with facets and filters."""
    from etl.backends.base import SearchRequest

    published_from = _parse_date(date_from, "--from", end=False)
    published_to = _parse_date(date_to, "--to", end=True)
    if published_from and published_to and published_from > published_to:
        _fail(f"--from {date_from} is after --to {date_to}", code=2)
    if histogram is not None and histogram not in ("year", "month", "day"):
        _fail(f"--histogram takes year, month or day, got {histogram!r}", code=2)
    request = SearchRequest(
        query=query,
        filters=_parse_filters(filter_ or []),
        published_from=published_from,
        published_to=published_to,
        facets=list(facet or []),
        facet_size=facet_size,
        histogram=histogram,
        size=size,
        collapse=collapse,
    )
    settings = _settings(index)
    _require_index(settings)
    backend = _open_backend(settings)
    try:
        with _index_errors(settings):
            result = backend.search(request)
    except ValueError as exc:
        _fail(str(exc), code=2)
    finally:
        backend.close()
    # Articles without a publication date are in no bucket: say how many, so a histogram
    # never reads as if it covered every match.
    undated = None
    if histogram and result.stories is None:
        undated = result.total - sum(b.count for b in result.histogram)
    if as_json:
        data = result.as_dict()
        if undated is not None:
            data["undated"] = undated
        _print_json(data)
        return
    stories = ""
    if result.stories is not None:
        noun = "story" if result.stories == 1 else "stories"
        stories = f" in [bold]{result.stories}[/] {noun}"
    out.print(
        f"[bold]{result.total}[/] matching article(s){stories} for [cyan]{escape(query or '*')}[/]",
        highlight=False,
    )
    for hit in result.hits:
        copies = hit.cluster_size or 1
        shown_copies = f"  [yellow]({copies} copies)[/]" if copies > 1 else ""
        out.print(
            f"\n[bold]{escape(hit.title)}[/]{shown_copies}  [dim]{hit.published or 'undated'} · "
            f"{escape(hit.site or '-')} · {hit.language or '-'} · {hit.id}[/]",
            highlight=False,
        )
        snippet = escape(hit.snippet).replace("<mark>", "[reverse]").replace("</mark>", "[/]")
        out.print("  " + snippet, highlight=False)
    for name, values in result.facets.items():
        table = Table(title=f"facet: {name}", title_justify="left")
        table.add_column("value")
        table.add_column("articles", justify="right")
        for v in values:
            table.add_row(escape(v.value), str(v.count))
        out.print(table)
    if result.histogram or undated:
        buckets = [f"{b.value}: {b.count}" for b in result.histogram]
        if undated:
            buckets.append(f"undated: {undated}")
        out.print("[bold]published[/]: " + "  ".join(buckets))


# --- show -------------------------------------------------------------------------------------


@app.command(cls=PlainHelpCommand)
def show(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="Document id (from search).")],
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one enriched article record: metadata, entities, dates, the other copies of its
    story (--json: the whole record; its story's copies: search --filter story_cluster=ID)."""
    settings = _settings(index)
    _require_index(settings)
    backend = _open_backend(settings)
    copies: tuple[list[Any], int] = ([], 0)
    try:
        with _index_errors(settings):
            doc = backend.get(doc_id)
            if doc is not None and not as_json:
                copies = _other_copies(backend, doc)
    finally:
        backend.close()
    if doc is None:
        _fail(f"no document with id {doc_id!r}")
    if as_json:
        _print_json(doc)
        return
    _print_record(doc)
    _print_copies(doc, *copies)


COPIES_SHOWN = 20


def _other_copies(backend: IndexBackend, doc: dict[str, Any]) -> tuple[list[Any], int]:
    """The first other documents of the document's story (newest first), and how many there are."""
    from etl.backends.base import STORY_FIELD, SearchRequest

    story = doc.get(STORY_FIELD)
    if not story:
        return [], 0
    result = backend.search(SearchRequest(filters={STORY_FIELD: [story]}, size=COPIES_SHOWN + 1))
    others = [h for h in result.hits if h.id != doc.get("id")][:COPIES_SHOWN]
    return others, max(0, result.total - 1)


def _print_copies(doc: dict[str, Any], others: list[Any], total: int) -> None:
    if not total:
        return
    out.print(f"\n[bold]other copies of this story[/] ({total}):", highlight=False)
    for hit in others:
        out.print(
            f"  {escape(hit.title or '(no title)')}  [dim]{hit.published or 'undated'} · "
            f"{escape(hit.site or _shown_path(hit.source) or '-')} · {hit.id}[/]",
            highlight=False,
        )
    if total > len(others):
        out.print(
            f"  ... and {total - len(others)} more: article-etl search "
            f"--filter story_cluster={doc.get('story_cluster')}",
            highlight=False,
        )


def _listed(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _print_record(doc: dict[str, Any]) -> None:
    title = escape(doc.get("title") or "(no title)")
    derived = " [dim](title derived from the text)[/]" if doc.get("title_derived") else ""
    out.print(f"[bold]{title}[/]{derived}", highlight=False)
    published = doc.get("published") or "undated"
    how = [v for v in (doc.get("published_source"), doc.get("published_confidence")) if v]
    if doc.get("published") and how:
        published += f" (from {how[0]}" + (f", {how[1]} confidence)" if len(how) > 1 else ")")
    words = doc.get("word_count")
    minutes = doc.get("reading_time_minutes")
    rows: list[tuple[str, str]] = [
        ("id", doc.get("id", "")),
        ("url", doc.get("url") or ""),
        ("source", _shown_path(doc.get("source") or "")),
        ("site", doc.get("site") or ""),
        ("author", _listed(doc.get("author"))),
        ("published", published),
        ("language", doc.get("language") or ""),
        ("fetched", doc.get("fetched_at") or ""),
        ("words", f"{words}" + (f" ({minutes} min read)" if minutes else "") if words else ""),
        ("categories", _listed(doc.get("category"))),
        ("tags", _listed(doc.get("tag"))),
        ("warnings", _listed(doc.get("warning"))),
    ]
    by_type: dict[str, list[str]] = {}
    for entity in doc.get("entities") or []:
        by_type.setdefault(entity["type"], []).append(f"{entity['name']} ({entity['count']})")
    for etype, label in ENTITY_LABELS.items():
        rows.append((label, ", ".join(by_type.pop(etype, []))))
    for etype, names in by_type.items():
        rows.append((etype, ", ".join(names)))
    dates = [
        f"{m['text']} → {m['value']}" if m.get("resolved") else f"{m['text']} (unresolved)"
        for m in doc.get("date_mentions") or []
    ]
    rows.append(("dates", "; ".join(dates)))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", justify="right", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        if value:
            grid.add_row(label, escape(value))
    out.print(grid, highlight=False)


# --- extract ----------------------------------------------------------------------------------


@app.command(cls=PlainHelpCommand)
def extract(
    path: Annotated[
        str,
        typer.Argument(metavar="FILE", help="A file, or - for standard input (HTML or text)."),
    ],
    url: Annotated[
        str | None, typer.Option(metavar="URL", help="The page's URL, for metadata.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the clean text (and with --json the metadata) one page yields. No NER, no index."""
    from etl.extract import Rejected
    from etl.extract import extract as extract_article
    from etl.sources import RawInput, media_type_for, read_file

    if path == "-":
        raw = RawInput(key="<stdin>", kind="file", data=sys.stdin.buffer.read(), url=url or "")
    else:
        try:
            max_bytes = Settings.from_env().max_input_bytes
        except ValueError as exc:
            _fail(str(exc), code=2)
        raws = list(read_file(Path(path).absolute(), max_bytes))
        if not raws:
            _fail(f"{path}: nothing to read", code=2)
        raw = raws[0]
        if raw.rejection:
            _fail(f"{path}: {raw.rejection}", code=2)
        raw.url = url or raw.url
        raw.media_type = raw.media_type or media_type_for(path)
    try:
        article = extract_article(raw, min_words=0)
    except Rejected as exc:
        _fail(f"{path}: {exc}", code=2)
    if as_json:
        doc = article.to_document()
        _print_json({k: v for k, v in doc.items() if k not in {"entities", "date_mentions"}})
        return
    sys.stdout.write(article.text + "\n")


# --- export -----------------------------------------------------------------------------------


@app.command(cls=PlainHelpCommand)
def export(
    path: Annotated[
        str,
        typer.Argument(
            metavar="PATH", help="File to write (replaced when complete); - or none: stdout."
        ),
    ] = "-",
    index: IndexOpt = None,
) -> None:
    """Write every stored article record as JSON Lines, for backups and other tools.

    One JSON object a line, UTF-8, each the whole record `show ID --json` prints (the embedded
    index in id order). A file is written beside PATH and renamed when complete, so a failed
    export never leaves half a backup.
    """
    settings = _settings(index)
    _require_index(settings)
    target = None if path == "-" else Path(path)
    if target is not None:
        if target.is_dir():
            _fail(f"{path} is a folder: give a file name", code=2)
        if not target.absolute().parent.is_dir():
            _fail(f"no folder {target.absolute().parent} to write {target.name} in", code=2)
    backend = _open_backend(settings)
    try:
        with _index_errors(settings):
            if target is None:
                stream = getattr(sys.stdout, "buffer", None)
                if stream is None:  # a text-only stdout
                    count = _write_jsonl(backend, _TextAsBytes(sys.stdout))
                else:
                    count = _write_jsonl(backend, stream)
                    stream.flush()
            else:
                count = _export_to_file(backend, target)
    finally:
        backend.close()
    if target is not None:
        err.print(
            f"exported {count} article(s) to {escape(str(target))}",
            highlight=False,
            soft_wrap=True,
        )


class _TextAsBytes:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        return self._stream.write(data.decode("utf-8"))


def _export_to_file(backend: IndexBackend, target: Path) -> int:
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with partial.open("wb") as fh:
            count = _write_jsonl(backend, fh)
        os.replace(partial, target)
    except OSError as exc:
        _fail(f"cannot write {target}: {exc.strerror or exc}")
    finally:
        partial.unlink(missing_ok=True)
    return count


def _write_jsonl(backend: IndexBackend, stream: Any) -> int:
    """Write the documents; a progress bar on a terminal's stderr when there are many (counting
    first is one cheap request in both backends)."""
    documents = backend.iter_documents()
    try:
        return _write_documents(documents, stream, backend)
    finally:
        close = getattr(documents, "close", None)
        if close is not None:  # a generator: let it release its cursor or scroll now
            close()


def _write_documents(
    documents: Iterator[dict[str, Any]], stream: Any, backend: IndexBackend
) -> int:
    show_progress = err.is_terminal and not (
        stream is getattr(sys.stdout, "buffer", None) and out.is_terminal
    )
    total = backend.count() if show_progress else 0
    count = 0
    if total < 1000:
        for doc in documents:
            stream.write(_jsonl_line(doc))
            count += 1
        return count
    from rich.progress import Progress

    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("exporting", total=total)
        for doc in documents:
            stream.write(_jsonl_line(doc))
            count += 1
            if count % 500 == 0:
                progress.update(task, completed=count)
    return count


def _jsonl_line(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# --- status and stats -------------------------------------------------------------------------


@app.command(cls=PlainHelpCommand)
def status(
    limit: Annotated[
        int, typer.Option(metavar="N", min=1, max=MAX_HITS, help="How many runs to list.")
    ] = 10,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The last runs and their outcome counts, from the ledger."""
    from etl.backends.sqlite.storage import check_index_file
    from etl.ledger import Ledger

    settings = _settings(index)
    if not settings.ledger_path.exists():
        _fail(f"no ledger at {settings.ledger_path}: nothing has been ingested yet")
    with _index_errors(settings):
        check_index_file(settings.ledger_path)
        ledger = Ledger(settings.ledger_path)
        try:
            runs = ledger.runs(limit)
            current = ledger.counts_by_outcome()
            rejections = ledger.rejections(10)
        finally:
            ledger.close()
    if as_json:
        _print_json({"runs": runs, "inputs_by_outcome": current, "recent_rejections": rejections})
        return
    _print_runs(runs, settings)
    out.print(
        "inputs by last outcome: "
        + (", ".join(f"{k} {v}" for k, v in sorted(current.items())) or "none"),
        highlight=False,
    )
    if rejections:
        out.print("recent rejections:")
    for rej in rejections:
        out.print(
            f"  [red]{escape(_shown_path(rej['source']))}[/]: {escape(rej['reason'])}",
            highlight=False,
        )


def _print_runs(runs: list[dict[str, Any]], settings: Settings) -> None:
    """Fits 80 columns: start time, status and the four counts; where the runs indexed once,
    above the table, unless they went to different indexes (then a column)."""
    targets = {r["target"] for r in runs}
    ledger = str(settings.ledger_path)
    if targets == {ledger}:  # the embedded index holds its own ledger
        out.print(f"index and ledger {escape(ledger)}", highlight=False, soft_wrap=True)
    else:
        if len(targets) == 1:
            out.print(f"index {escape(next(iter(targets)))}", highlight=False, soft_wrap=True)
        out.print(f"ledger {escape(ledger)}", highlight=False, soft_wrap=True)
    table = Table(
        title=f"last {len(runs)} run(s), newest first", title_justify="left", box=box.SIMPLE_HEAD
    )
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("status")
    for name in ("indexed", "unchanged", "duplicate", "rejected"):
        table.add_column(name, justify="right")
    if len(targets) > 1:
        table.add_column("index", overflow="fold")
    for r in runs:
        c = r["counts"]
        started = str(r["started_at"]).replace("T", " ")[:19]
        colour = {"ok": "green", "failed": "red"}.get(r["status"], "yellow")
        row = [
            started,
            f"[{colour}]{escape(r['status'])}[/]",
            *(str(c.get(k, 0)) for k in ("indexed", "unchanged", "duplicate", "rejected")),
        ]
        if len(targets) > 1:
            row.append(escape(r["target"]))
        table.add_row(*row)
    out.print(table, highlight=False)
    for r in runs:
        if r["status"] == "failed" and r["message"]:
            out.print(
                f"[red]run {r['run_id']} failed:[/] {escape(redact(r['message']))}",
                highlight=False,
            )


@app.command(cls=PlainHelpCommand)
def stats(index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Index statistics: documents, languages, sites, warnings, publication years."""
    from etl.backends.base import SearchRequest

    settings = _settings(index)
    _require_index(settings)
    backend = _open_backend(settings)
    try:
        with _index_errors(settings):
            result = backend.search(
                SearchRequest(
                    facets=["language", "site", "warning", "published_source"],
                    size=0,
                    histogram="year",
                    facet_size=20,
                )
            )
            data: dict[str, Any] = {
                "index": redact(settings.index),
                "documents": backend.count(),
                "facets": {k: {v.value: v.count for v in vs} for k, vs in result.facets.items()},
                "published_by_year": {b.value: b.count for b in result.histogram},
            }
    finally:
        backend.close()
    if as_json:
        _print_json(data)
        return
    out.print(f"[bold]{data['documents']}[/] documents in {escape(data['index'])}")
    for name, values in data["facets"].items():
        out.print(
            f"{name}: " + escape(", ".join(f"{k} {v}" for k, v in values.items())),
            highlight=False,
        )
    out.print(
        "published by year: " + ", ".join(f"{k} {v}" for k, v in data["published_by_year"].items())
    )


def _mount_subcommands() -> None:
    try:
        from etl.backends.elasticsearch.cli import es_app, kibana_app
    except ImportError:  # the Elasticsearch commands are optional extras of this CLI
        return
    app.add_typer(es_app, name="es", help="Elasticsearch: setup, reindex, status.")
    app.add_typer(kibana_app, name="kibana", help="Kibana: import saved objects.")


_mount_subcommands()


def main() -> None:
    app()
