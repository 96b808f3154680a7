"""``article-etl status`` (the last runs, inputs by outcome and recent rejections, from the
ledger) and ``article-etl stats`` (what the index holds)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from etl.cli.options import (
    MAX_HITS,
    IndexOpt,
    JsonOpt,
    index_errors,
    load_settings,
    open_index,
    require_index,
)
from etl.cli.output import console, fail, print_json, redact, shown_path
from etl.settings import Settings, redact_url


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

    settings = load_settings(index)
    ledger_file = settings.ledger_file  # None: a PostgreSQL database
    if ledger_file is not None and not ledger_file.exists():
        fail(f"no ledger at {ledger_file}: nothing has been ingested yet")
    with index_errors(settings):
        if ledger_file is not None:
            check_index_file(ledger_file)
        ledger = Ledger(settings.ledger_location)
        try:
            runs = ledger.runs(limit)
            current = ledger.counts_by_outcome()
            rejections = ledger.rejections(10)
        finally:
            ledger.close()
    if as_json:
        print_json({"runs": runs, "inputs_by_outcome": current, "recent_rejections": rejections})
        return
    _print_runs(runs, settings)
    console.out.print(
        "inputs by last outcome: "
        + (", ".join(f"{k} {v}" for k, v in sorted(current.items())) or "none"),
        highlight=False,
    )
    if rejections:
        console.out.print("recent rejections:")
    for rej in rejections:
        console.out.print(
            f"  [red]{escape(shown_path(rej['source']))}[/]: {escape(rej['reason'])}",
            highlight=False,
        )


def _print_runs(runs: list[dict[str, Any]], settings: Settings) -> None:
    """Fits 80 columns: start time, status and the four counts; where the runs indexed once,
    above the table, unless they went to different indexes (then a column)."""
    targets = {r["target"] for r in runs}
    ledger = redact_url(settings.ledger_location)
    if targets == {ledger}:  # the embedded index holds its own ledger
        console.out.print(f"index and ledger {escape(ledger)}", highlight=False, soft_wrap=True)
    else:
        if len(targets) == 1:
            console.out.print(
                f"index {escape(next(iter(targets)))}", highlight=False, soft_wrap=True
            )
        console.out.print(f"ledger {escape(ledger)}", highlight=False, soft_wrap=True)
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
    console.out.print(table, highlight=False)
    for r in runs:
        if r["status"] == "failed" and r["message"]:
            console.out.print(
                f"[red]run {r['run_id']} failed:[/] {escape(redact(r['message']))}",
                highlight=False,
            )


def stats(index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Index statistics: documents, languages, sites, warnings, publication years."""
    from etl.backends.base import SearchRequest

    settings = load_settings(index)
    require_index(settings)
    backend = open_index(settings)
    try:
        with index_errors(settings):
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
        print_json(data)
        return
    console.out.print(f"[bold]{data['documents']}[/] documents in {escape(data['index'])}")
    for name, values in data["facets"].items():
        console.out.print(
            f"{name}: " + escape(", ".join(f"{k} {v}" for k, v in values.items())),
            highlight=False,
        )
    console.out.print(
        "published by year: " + ", ".join(f"{k} {v}" for k, v in data["published_by_year"].items())
    )
