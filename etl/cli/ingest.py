"""``article-etl ingest``: files, folders and URLs into the index, with a progress bar on a
terminal and a table of what happened to each input."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import psycopg
import typer
from rich.markup import escape

from etl.cli.options import IndexOpt, JsonOpt, index_errors, load_settings
from etl.cli.output import console, fail, print_json, redact, shown_path
from etl.settings import Settings

if TYPE_CHECKING:
    from etl.outcomes import InputOutcome, ProgressCallback, RunReport

MAX_TABLE_ROWS = 200  # inputs listed after an ingest; --json has them all


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
        fail("nothing to ingest: give files, directories or URLs (see --help)", code=2)
    settings = load_settings(
        index,
        workers=workers,
        include=tuple(include) if include else None,
        exclude=tuple(exclude) if exclude else None,
    )
    urls = [i for i in inputs or () if i.startswith(("http://", "https://"))]
    paths = [i for i in inputs or () if i not in urls]
    missing = [p for p in paths if not Path(p).expanduser().exists()]
    if missing:
        fail(f"no such file or directory: {', '.join(missing)}", code=2)
    if paths and not (urls or feed or sitemap or url_list):
        _say_when_nothing_matches(paths, settings)
    _check_index_files(settings)  # the ledger is opened even by a dry run
    show_bar = not as_json and console.err.is_terminal
    bar = _progress_bar(paths, settings) if show_bar else nullcontext()
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
        fail(
            f"{exc} (nothing more was recorded; run the same command again to index the "
            "pending inputs)"
        )
    except NotAnIndexError as exc:
        fail(str(exc), code=2)
    except SetupError as exc:
        fail(str(exc))
    except (sqlite3.DatabaseError, psycopg.Error) as exc:  # psycopg: a PostgreSQL ledger
        fail(f"the index or ledger failed: {exc}")
    except RuntimeError as exc:
        fail(str(exc))
    if as_json:
        print_json(report.as_dict())
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
    console.err.print(f"[yellow]note:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _check_index_files(settings: Settings) -> None:
    """Refuse an --index (or ledger) that is not one before anything is written into it."""
    from etl.backends.sqlite.storage import check_index_file

    with index_errors(settings):
        if not settings.uses_elasticsearch:
            check_index_file(settings.index)
        if settings.ledger_file is not None:  # else a PostgreSQL database
            check_index_file(settings.ledger_file)


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
    with Progress(*columns, console=console.err, transient=True) as prog:
        task = prog.add_task("ingest", total=total or None, last="")

        def advance(outcome: InputOutcome) -> None:
            last = f"{outcome.outcome.value}: {Path(outcome.source).name[:40]}"
            prog.update(task, advance=1, last=escape(last))

        yield advance


def _outcome_table(report: RunReport) -> None:
    from etl.outcomes import input_rows, outcome_table, skipped_line

    rows = input_rows(report.outcomes, hide_unchanged=True)
    if rows:
        shown = [[shown_path(row[0]), *row[1:]] for row in rows[:MAX_TABLE_ROWS]]
        console.out.print(f"run {report.run_id}", highlight=False)
        console.out.print(
            outcome_table(("input", "outcome", "detail"), shown),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        if len(rows) > MAX_TABLE_ROWS:
            console.out.print(f"... and {len(rows) - MAX_TABLE_ROWS} more (see --json)")
    counts = "  ".join(f"{k}: {v}" for k, v in report.counts.items())
    console.out.print(
        f"[bold]{counts}[/]  ({report.elapsed_s:.1f}s, index {escape(redact(report.index))})",
        highlight=False,
    )
    if report.skipped:
        console.out.print(escape(skipped_line(report.skipped)), highlight=False)
