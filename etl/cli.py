"""The ``article-etl`` command: ingest, search, show, extract, status, stats (and ``es``,
``kibana``). Exit codes: 0 ok, 1 the work failed (index unreachable...), 2 bad usage or input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from etl.settings import Settings

if TYPE_CHECKING:
    from etl.backends.base import IndexBackend

app = typer.Typer(
    help="Turn article files and web pages into a searchable, faceted index.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

IndexOpt = Annotated[
    str | None,
    typer.Option(
        "--index",
        help="Index target: a file path (embedded SQLite index) or an "
        "http(s) URL (Elasticsearch). Default: $ARTICLE_ETL_INDEX or data/articles.db.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _settings(index: str | None, **overrides: Any) -> Settings:
    try:
        return Settings.from_env().with_overrides(index=index, **overrides)
    except ValueError as exc:
        _fail(str(exc), code=2)


def _fail(message: str, code: int = 1) -> NoReturn:
    # soft_wrap: never hard-wrap (a path split over two lines in a log cannot be copied)
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@app.command()
def ingest(
    inputs: Annotated[
        list[str] | None, typer.Argument(help="Files, directories or http(s) URLs.")
    ] = None,
    index: IndexOpt = None,
    include: Annotated[
        list[str] | None, typer.Option(help="Only files matching this glob (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Skip files matching this glob (repeatable).")
    ] = None,
    feed: Annotated[
        list[str] | None,
        typer.Option(help="RSS/Atom feed URL whose articles to ingest (repeatable)."),
    ] = None,
    sitemap: Annotated[
        list[str] | None, typer.Option(help="Sitemap URL whose pages to ingest (repeatable).")
    ] = None,
    url_list: Annotated[
        list[Path] | None,
        typer.Option("--url-list", help="File with one URL per line (repeatable)."),
    ] = None,
    reprocess: Annotated[
        bool, typer.Option(help="Process inputs even if unchanged since last time.")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Extract and enrich, but write nothing.")] = False,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: CPU count).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest article files, folders and URLs into the index."""
    from etl.backends.base import IndexSetupError, TransientIndexError
    from etl.pipeline import ingest as run_ingest

    if not (inputs or feed or sitemap or url_list):
        _fail("nothing to ingest: give files, directories or URLs (see --help)", code=2)
    settings = _settings(
        index,
        workers=workers,
        include=tuple(include) if include else None,
        exclude=tuple(exclude) if exclude else None,
    )
    try:
        report = run_ingest(
            inputs or [],
            settings,
            reprocess=reprocess,
            dry_run=dry_run,
            feeds=feed or (),
            sitemaps=sitemap or (),
            url_lists=[str(p) for p in url_list or ()],
            progress=not as_json and err.is_terminal,
        )
    except TransientIndexError as exc:
        _fail(
            f"{exc}\nNothing more was recorded; run the same command again to index the "
            "pending inputs."
        )
    except IndexSetupError as exc:
        _fail(str(exc))
    except RuntimeError as exc:
        _fail(str(exc))
    if as_json:
        _print_json(report.as_dict())
        return
    _outcome_table(report)


def _shown_path(source: str) -> str:
    """Inputs under the current folder as relative paths: shorter tables, same meaning."""
    if "://" in source:
        return source
    try:
        return str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        return source


def _outcome_table(report: Any) -> None:
    shown = [o for o in report.outcomes if o.outcome.value != "unchanged"]
    if shown:
        table = Table(title=f"run {report.run_id}", show_lines=False)
        table.add_column("input", overflow="fold")
        table.add_column("outcome")
        table.add_column("detail", overflow="fold")
        colours = {"indexed": "green", "duplicate": "yellow", "rejected": "red"}
        for o in shown[:200]:
            detail = o.reason or o.title
            table.add_row(
                _shown_path(o.source),
                f"[{colours.get(o.outcome.value, '')}]{o.outcome.value}[/]",
                detail,
            )
        out.print(table)
        if len(shown) > 200:
            out.print(f"... and {len(shown) - 200} more (see --json)")
    counts = "  ".join(f"{k}: {v}" for k, v in report.counts.items())
    out.print(
        f"[bold]{counts}[/]  ({report.elapsed_s:.1f}s, index {report.index})", highlight=False
    )


def _parse_filters(filters: list[str]) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for item in filters:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            _fail(f"--filter takes field=value, got {item!r}", code=2)
        parsed.setdefault(name.strip(), []).append(value.strip())
    return parsed


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(help='Words (ANDed), "a phrase", prefix*, OR. Empty: everything.')
    ] = "",
    facet: Annotated[
        list[str] | None,
        typer.Option("--facet", help="Facet to count (repeatable), e.g. person, location, site."),
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option("--filter", help="field=value (repeatable; same field ORs, fields AND)."),
    ] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="Published on or after (YYYY-MM-DD).")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Published on or before (YYYY-MM-DD).")
    ] = None,
    histogram: Annotated[
        str | None, typer.Option(help="Publication-date histogram: year, month or day.")
    ] = None,
    size: Annotated[int, typer.Option(help="Hits to show.")] = 10,
    facet_size: Annotated[int, typer.Option(help="Values per facet.")] = 10,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Full-text search with facets and filters."""
    from etl.backends.base import IndexError_, SearchRequest

    request = SearchRequest(
        query=query,
        filters=_parse_filters(filter_ or []),
        published_from=date_from,
        published_to=date_to,
        facets=list(facet or []),
        facet_size=facet_size,
        histogram=histogram,
        size=size,
    )
    settings = _settings(index)
    _require_index(settings)
    backend = _open_backend(settings)
    try:
        result = backend.search(request)
    except ValueError as exc:
        _fail(str(exc), code=2)
    except IndexError_ as exc:
        _fail(str(exc))
    finally:
        backend.close()
    if as_json:
        _print_json(result.as_dict())
        return
    out.print(
        f"[bold]{result.total}[/] matching article(s) for [cyan]{query or '*'}[/]", highlight=False
    )
    for hit in result.hits:
        out.print(
            f"\n[bold]{hit.title}[/]  [dim]{hit.published or 'undated'} · {hit.site or '-'} · "
            f"{hit.language or '-'} · {hit.id}[/]",
            highlight=False,
        )
        out.print(
            "  " + hit.snippet.replace("<mark>", "[reverse]").replace("</mark>", "[/reverse]"),
            highlight=False,
        )
    for name, values in result.facets.items():
        table = Table(title=f"facet: {name}", title_justify="left")
        table.add_column("value")
        table.add_column("articles", justify="right")
        for v in values:
            table.add_row(v.value, str(v.count))
        out.print(table)
    if result.histogram:
        out.print(
            "[bold]published[/]: " + "  ".join(f"{b.value}: {b.count}" for b in result.histogram)
        )


def _open_backend(settings: Settings) -> IndexBackend:
    from etl.backends import open_backend
    from etl.backends.base import IndexError_

    try:
        return open_backend(settings)
    except IndexError_ as exc:
        _fail(str(exc))


def _require_index(settings: Settings) -> None:
    if not settings.uses_elasticsearch and not Path(settings.index).exists():
        _fail(
            f"no index at {settings.index}: run `article-etl ingest PATH` first "
            "(or set --index / ARTICLE_ETL_INDEX)"
        )


@app.command()
def show(
    doc_id: Annotated[str, typer.Argument(help="Document id (from search).")],
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one enriched article record."""

    settings = _settings(index)
    _require_index(settings)
    backend = _open_backend(settings)
    try:
        doc = backend.get(doc_id)
    finally:
        backend.close()
    if doc is None:
        _fail(f"no document with id {doc_id!r}")
    if as_json:
        _print_json(doc)
        return
    out.print(
        f"[bold]{doc['title']}[/]"
        + (" [dim](title derived from text)[/]" if doc.get("title_derived") else "")
    )
    for key in (
        "source",
        "url",
        "site",
        "author",
        "language",
        "published",
        "published_source",
        "published_confidence",
        "word_count",
        "warning",
    ):
        out.print(f"[dim]{key:>20}[/] {doc.get(key)}", highlight=False)
    for entity in doc.get("entities", [])[:30]:
        aka = f" (also: {', '.join(entity['aliases'])})" if entity["aliases"] else ""
        out.print(
            f"[dim]{entity['type']:>20}[/] {entity['name']} ×{entity['count']}{aka}",
            highlight=False,
        )
    for m in doc.get("date_mentions", []):
        value = m["value"] if m["resolved"] else f"unresolved: {m['note']}"
        out.print(
            f"[dim]{'date':>20}[/] {m['text']!r} -> {value} ({m['granularity']})", highlight=False
        )


@app.command()
def extract(
    path: Annotated[str, typer.Argument(help="A file, or - for standard input (HTML or text).")],
    url: Annotated[str | None, typer.Option(help="The page's URL, for metadata.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the clean text (and with --json the metadata) one page yields. No NER, no index."""
    from etl.extract import Rejected
    from etl.extract import extract as extract_article
    from etl.sources import RawInput, media_type_for, read_file

    if path == "-":
        raw = RawInput(key="<stdin>", kind="file", data=sys.stdin.buffer.read(), url=url or "")
    else:
        raws = list(read_file(Path(path).absolute(), Settings.from_env().max_input_bytes))
        if not raws:
            _fail(f"{path}: nothing to read", code=2)
        raw = raws[0]
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


@app.command()
def status(
    limit: Annotated[int, typer.Option(help="How many runs to list.")] = 10,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The last runs and their outcome counts, from the ledger."""
    from etl.ledger import Ledger

    settings = _settings(index)
    if not settings.ledger_path.exists():
        _fail(f"no ledger at {settings.ledger_path}: nothing has been ingested yet")
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
    table = Table(title=f"last runs ({settings.ledger_path})")
    for col in (
        "run",
        "started",
        "status",
        "target",
        "indexed",
        "unchanged",
        "duplicate",
        "rejected",
    ):
        table.add_column(col)
    for r in runs:
        c = r["counts"]
        table.add_row(
            r["run_id"],
            r["started_at"],
            r["status"],
            r["target"],
            *(str(c.get(k, 0)) for k in ("indexed", "unchanged", "duplicate", "rejected")),
        )
    out.print(table)
    for r in runs:
        if r["status"] == "failed" and r["message"]:
            out.print(f"  [red]run {r['run_id']} failed:[/] {r['message']}", highlight=False)
    out.print(
        "inputs by last outcome: " + ", ".join(f"{k}: {v}" for k, v in sorted(current.items()))
    )
    for rej in rejections:
        out.print(
            f"  [red]rejected[/] {_shown_path(rej['source'])}: {rej['reason']}", highlight=False
        )


@app.command()
def stats(index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Index statistics: documents, languages, sites, warnings, publication years."""
    from etl.backends.base import SearchRequest

    settings = _settings(index)
    _require_index(settings)
    backend = _open_backend(settings)
    try:
        result = backend.search(
            SearchRequest(
                facets=["language", "site", "warning", "published_source"],
                size=0,
                histogram="year",
                facet_size=20,
            )
        )
        data: dict[str, Any] = {
            "index": settings.index if not settings.uses_elasticsearch else "elasticsearch",
            "documents": backend.count(),
            "facets": {k: {v.value: v.count for v in vs} for k, vs in result.facets.items()},
            "published_by_year": {b.value: b.count for b in result.histogram},
        }
    finally:
        backend.close()
    if as_json:
        _print_json(data)
        return
    out.print(f"[bold]{data['documents']}[/] documents in {data['index']}")
    for name, values in data["facets"].items():
        out.print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in values.items()), highlight=False)
    out.print(
        "published by year: " + ", ".join(f"{k} {v}" for k, v in data["published_by_year"].items())
    )


def _mount_subcommands() -> None:
    try:
        from etl.cli_es import es_app, kibana_app
    except ImportError:  # the Elasticsearch commands are optional extras of this CLI
        return
    app.add_typer(es_app, name="es", help="Elasticsearch: setup, reindex, status.")
    app.add_typer(kibana_app, name="kibana", help="Kibana: import saved objects.")


_mount_subcommands()


def main() -> None:
    app()
