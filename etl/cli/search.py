"""``article-etl search`` (hits, facets, histogram) and ``article-etl show`` (one record and
the other copies of its story)."""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer
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
from etl.cli.output import console, fail, print_json, shown_path

if TYPE_CHECKING:
    from etl.backends.base import IndexBackend

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


def _parse_filters(filters: list[str]) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for item in filters:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            fail(f"--filter takes field=value, got {item!r}", code=2)
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
        fail(f"{option} {value!r} is not a date: use YYYY-MM-DD, YYYY-MM or YYYY", code=2)
    return found.isoformat()


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
        fail(f"--from {date_from} is after --to {date_to}", code=2)
    if histogram is not None and histogram not in ("year", "month", "day"):
        fail(f"--histogram takes year, month or day, got {histogram!r}", code=2)
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
    settings = load_settings(index)
    require_index(settings)
    backend = open_index(settings)
    try:
        with index_errors(settings):
            result = backend.search(request)
    except ValueError as exc:
        fail(str(exc), code=2)
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
        print_json(data)
        return
    stories = ""
    if result.stories is not None:
        noun = "story" if result.stories == 1 else "stories"
        stories = f" in [bold]{result.stories}[/] {noun}"
    console.out.print(
        f"[bold]{result.total}[/] matching article(s){stories} for [cyan]{escape(query or '*')}[/]",
        highlight=False,
    )
    for hit in result.hits:
        copies = hit.cluster_size or 1
        shown_copies = f"  [yellow]({copies} copies)[/]" if copies > 1 else ""
        console.out.print(
            f"\n[bold]{escape(hit.title)}[/]{shown_copies}  [dim]{hit.published or 'undated'} · "
            f"{escape(hit.site or '-')} · {hit.language or '-'} · {hit.id}[/]",
            highlight=False,
        )
        snippet = escape(hit.snippet).replace("<mark>", "[reverse]").replace("</mark>", "[/]")
        console.out.print("  " + snippet, highlight=False)
    for name, values in result.facets.items():
        table = Table(title=f"facet: {name}", title_justify="left")
        table.add_column("value")
        table.add_column("articles", justify="right")
        for v in values:
            table.add_row(escape(v.value), str(v.count))
        console.out.print(table)
    if result.histogram or undated:
        buckets = [f"{b.value}: {b.count}" for b in result.histogram]
        if undated:
            buckets.append(f"undated: {undated}")
        console.out.print("[bold]published[/]: " + "  ".join(buckets))


# --- show -------------------------------------------------------------------------------------


def show(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="Document id (from search).")],
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one enriched article record: metadata, entities, dates, the other copies of its
    story (--json: the whole record; its story's copies: search --filter story_cluster=ID)."""
    settings = load_settings(index)
    require_index(settings)
    backend = open_index(settings)
    copies: tuple[list[Any], int] = ([], 0)
    try:
        with index_errors(settings):
            doc = backend.get(doc_id)
            if doc is not None and not as_json:
                copies = _other_copies(backend, doc)
    finally:
        backend.close()
    if doc is None:
        fail(f"no document with id {doc_id!r}")
    if as_json:
        print_json(doc)
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
    console.out.print(f"\n[bold]other copies of this story[/] ({total}):", highlight=False)
    for hit in others:
        console.out.print(
            f"  {escape(hit.title or '(no title)')}  [dim]{hit.published or 'undated'} · "
            f"{escape(hit.site or shown_path(hit.source) or '-')} · {hit.id}[/]",
            highlight=False,
        )
    if total > len(others):
        console.out.print(
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
    console.out.print(f"[bold]{title}[/]{derived}", highlight=False)
    published = doc.get("published") or "undated"
    how = [v for v in (doc.get("published_source"), doc.get("published_confidence")) if v]
    if doc.get("published") and how:
        published += f" (from {how[0]}" + (f", {how[1]} confidence)" if len(how) > 1 else ")")
    words = doc.get("word_count")
    minutes = doc.get("reading_time_minutes")
    rows: list[tuple[str, str]] = [
        ("id", doc.get("id", "")),
        ("url", doc.get("url") or ""),
        ("source", shown_path(doc.get("source") or "")),
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
    console.out.print(grid, highlight=False)
