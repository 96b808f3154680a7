"""Titles without the site's name; the original kept."""

from __future__ import annotations

import pytest
from lxml import html

from etl.extract import extract
from etl.record import RawInput
from etl.titles import page_hints, strip_site_name

BODY = (
    "Installers across Bavaria report that heat pumps are sold out until the spring, as "
    "households rush to replace oil boilers before subsidies change. Manufacturers say they "
    "are adding shifts, but supply of compressors remains tight, and prices have risen by a "
    "tenth since January according to the trade association."
)


@pytest.mark.parametrize(
    ("title", "names", "host", "expected"),
    [
        ("Heat pumps sell out - Solarserver", [], "solarserver.de", "Heat pumps sell out"),
        (
            "Oil falls as OPEC+ agrees rise | Reuters",
            [],
            "reuters.com",
            "Oil falls as OPEC+ agrees rise",
        ),
        ("Biden signs bill - The New York Times", [], "nytimes.com", "Biden signs bill"),
        ("Storm hits coast - BBC News", [], "bbc.co.uk", "Storm hits coast"),
        (
            "Harbor Ledger: Dockworkers walk out",
            ["The Harbor Ledger"],
            "hl.example",
            "Dockworkers walk out",
        ),
        ("Port strike ends – Elbe Courier", ["Elbe Courier"], "elbe.example", "Port strike ends"),
    ],
)
def test_the_sites_name_is_removed(title: str, names: list[str], host: str, expected: str) -> None:
    assert strip_site_name(title, names, host) == expected


@pytest.mark.parametrize(
    "title",
    [
        "Ukraine war: Putin says talks are stalled",  # a colon inside the headline
        "Apple reports record profit",  # starts with the host's name, no separator
        "Home | Solarserver",  # what would remain is no title
        "Jobs report - what it means for rates",  # a dash inside the headline
    ],
)
def test_titles_without_the_sites_name_stay_whole(title: str) -> None:
    hosts = {"Apple": "apple.com", "Home": "solarserver.de"}
    host = next((h for k, h in hosts.items() if title.startswith(k)), "news.example")
    assert strip_site_name(title, [], host) == title


def test_a_heading_of_the_page_decides_and_sections_go_with_the_site() -> None:
    title = "Rates on hold again | Markets | Ledgerline"
    assert strip_site_name(title, [], "x.example", headings=["Rates on hold again"]) == (
        "Rates on hold again"
    )
    assert strip_site_name(title, ["Ledgerline"], "x.example", sections=["Markets"]) == (
        "Rates on hold again"
    )


def test_page_hints_read_the_sites_name_and_headings() -> None:
    tree = html.fromstring(
        '<html><head><meta property="og:site_name" content="Solarserver">'
        '<meta name="twitter:site" content="@solar_news">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Heat pumps '
        'sell out", "publisher": {"@type": "Organization", "name": "Solarserver GmbH"}}</script>'
        "</head><body><h1>Heat pumps sell out</h1></body></html>"
    )
    names, headings = page_hints(tree)
    assert {"Solarserver", "solar_news", "Solarserver GmbH"} <= set(names)
    assert "Heat pumps sell out" in headings


def test_extraction_keeps_the_original_title() -> None:
    page = (
        '<html lang="en"><head><meta property="og:title" content="Heat pumps sell out in '
        'Bavaria - Solarserver"><title>Heat pumps sell out in Bavaria - Solarserver</title>'
        f"</head><body><article><p>{BODY}</p></article></body></html>"
    )
    raw = RawInput(
        key="https://www.solarserver.de/2025/01/heat-pumps",
        kind="url",
        data=page.encode(),
        media_type="html",
        url="https://www.solarserver.de/2025/01/heat-pumps",
    )
    article = extract(raw)
    assert article.title == "Heat pumps sell out in Bavaria"
    assert article.title_original == "Heat pumps sell out in Bavaria - Solarserver"


def test_a_date_after_the_sites_name_goes_with_it() -> None:
    title = "Berlin agrees budget – DW – 01/12/2024"
    assert strip_site_name(title, [], "dw.com") == "Berlin agrees budget"
    # ... but a date alone is part of the title
    assert strip_site_name("Results – 01/12/2024", [], "x.example") == "Results – 01/12/2024"
