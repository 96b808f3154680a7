"""What a document learns from the others (issue 11): titles without the segment that repeats
across their site's pages, and one facet value per person across the index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from etl.backends.base import SearchRequest
from etl.backends.sqlite.backend import SqliteBackend
from etl.canon import across_documents, facts_of
from etl.ledger.known import Known
from etl.people import canonical_people, canonical_spellings, short_form_targets
from etl.pipeline import ingest
from etl.record import Article, Entity
from etl.settings import Settings
from etl.titles import end_segments, strip_repeated


def page(n: int, title: str, host: str, entities: list[Entity] | None = None) -> Article:
    return Article(
        id=f"d{n}",
        source=f"https://{host}/{n}",
        source_kind="url",
        raw_hash=f"r{n}",
        text=f"text {n}",
        content_hash=f"c{n}",
        title=title,
        title_original=title,
        host=host,
        site=host,
        entities=entities or [],
    )


def titles_across(series: list[tuple[str, str]], known: Known | None = None) -> list[str]:
    pages = [page(n, title, host) for n, (host, title) in enumerate(series)]
    return [a.title for a in across_documents(pages, known or Known())]


# --- titles: a labelled set of site title series ------------------------------------------------

MAG = "sonnenseite.example"
LEDGER = "ledgerline.example"
SERIES: list[tuple[str, list[tuple[str, str]], list[str]]] = [
    (
        "a site's name three pages carry is removed",
        [
            (MAG, "Heat pumps sell out | Solarserver Magazin"),
            (MAG, "Grid fees rise again | Solarserver Magazin"),
            (MAG, "Balcony panels approved | Solarserver Magazin"),
        ],
        ["Heat pumps sell out", "Grid fees rise again", "Balcony panels approved"],
    ),
    (
        "two pages are not enough",
        [
            (MAG, "Heat pumps sell out | Solarserver Magazin"),
            (MAG, "Grid fees rise again | Solarserver Magazin"),
        ],
        ["Heat pumps sell out | Solarserver Magazin", "Grid fees rise again | Solarserver Magazin"],
    ),
    (
        "a prefix repeats as well as a suffix",
        [
            (MAG, "Solar Weekly – Heat pumps sell out"),
            (MAG, "Solar Weekly – Grid fees rise again"),
            (MAG, "Solar Weekly – Balcony panels approved"),
        ],
        ["Heat pumps sell out", "Grid fees rise again", "Balcony panels approved"],
    ),
    (
        "a section goes with the site only where it repeats too",
        [
            (LEDGER, "Rates on hold again | Markets | Ledgerline"),
            (LEDGER, "Oil rises on supply fears | Markets | Ledgerline"),
            (LEDGER, "Jobs data beat forecasts | Economy | Ledgerline"),
        ],
        [
            "Rates on hold again | Markets",
            "Oil rises on supply fears | Markets",
            "Jobs data beat forecasts | Economy",
        ],
    ),
    (
        "... and a section on three pages goes too",
        [
            (LEDGER, "Rates on hold again | Markets | Ledgerline"),
            (LEDGER, "Oil rises on supply fears | Markets | Ledgerline"),
            (LEDGER, "Bonds slip after auction | Markets | Ledgerline"),
        ],
        ["Rates on hold again", "Oil rises on supply fears", "Bonds slip after auction"],
    ),
    (
        "counter-case: a kicker before a colon is part of the headline",
        [
            ("news.example", "Live: Storm hits the coast"),
            ("news.example", "Live: Markets fall at the open"),
            ("news.example", "Live: Election results come in"),
        ],
        [
            "Live: Storm hits the coast",
            "Live: Markets fall at the open",
            "Live: Election results come in",
        ],
    ),
    (
        "counter-case: the kicker stays while the site's name goes",
        [
            ("news.example", "Live: Storm hits the coast | Nordwind"),
            ("news.example", "Live: Markets fall at the open | Nordwind"),
            ("news.example", "Analysis: Why rates stay high | Nordwind"),
        ],
        [
            "Live: Storm hits the coast",
            "Live: Markets fall at the open",
            "Analysis: Why rates stay high",
        ],
    ),
    (
        "counter-case: a series name whose removal leaves no title stays",
        [
            ("pod.example", "Part 1 | The Long Road Home"),
            ("pod.example", "Part 2 | The Long Road Home"),
            ("pod.example", "Part 3 | The Long Road Home"),
        ],
        [
            "Part 1 | The Long Road Home",
            "Part 2 | The Long Road Home",
            "Part 3 | The Long Road Home",
        ],
    ),
    (
        "counter-case: one word left is no title",
        [
            (MAG, "Home | Solarserver Magazin"),
            (MAG, "Grid fees rise again | Solarserver Magazin"),
            (MAG, "Balcony panels approved | Solarserver Magazin"),
        ],
        ["Home | Solarserver Magazin", "Grid fees rise again", "Balcony panels approved"],
    ),
    (
        "counter-case: two sites with the same suffix are counted apart",
        [
            ("one.example", "Heat pumps sell out | Weekly Review"),
            ("one.example", "Grid fees rise again | Weekly Review"),
            ("two.example", "Balcony panels approved | Weekly Review"),
        ],
        [
            "Heat pumps sell out | Weekly Review",
            "Grid fees rise again | Weekly Review",
            "Balcony panels approved | Weekly Review",
        ],
    ),
]


@pytest.mark.parametrize(
    ("series", "expected"), [(s, e) for _label, s, e in SERIES], ids=[s[0] for s in SERIES]
)
def test_segments_repeating_across_a_sites_pages(
    series: list[tuple[str, str]], expected: list[str]
) -> None:
    assert titles_across(series) == expected


def test_earlier_pages_count_through_what_the_ledger_knows() -> None:
    known = Known(segments={(MAG, "end", "solarservermagazin"): 2})
    (title,) = titles_across([(MAG, "Heat pumps sell out | Solarserver Magazin")], known)
    assert title == "Heat pumps sell out"
    other_site = Known(segments={("elsewhere.example", "end", "solarservermagazin"): 5})
    (title,) = titles_across([(MAG, "Heat pumps sell out | Solarserver Magazin")], other_site)
    assert title == "Heat pumps sell out | Solarserver Magazin"


def test_the_original_title_is_kept() -> None:
    pages = [page(n, f"Story number {n} | Solar Mag", MAG) for n in range(3)]
    stripped = across_documents(pages, Known())
    assert next((a.title, a.title_original) for a in stripped) == (
        "Story number 0",
        "Story number 0 | Solar Mag",
    )


def test_end_segments_and_their_removal() -> None:
    assert end_segments("Ukraine war: Putin says talks are stalled") == []
    assert end_segments("Title | Section | Site") == [
        ("end", "site"),
        ("end", "section"),
        ("start", "title"),
        ("start", "section"),
    ]
    assert strip_repeated("Title of it | Site", {("start", "site")}) == "Title of it | Site"
    assert facts_of(page(1, "A title | Site", "")).segments == []  # no site known


def test_a_page_of_no_known_site_counts_nothing() -> None:
    article = Article(
        id="x", source="/in/a.txt", source_kind="file", raw_hash="r", text="t", content_hash="c"
    )
    assert facts_of(article).segments == []


# --- people: one facet value across the index -------------------------------------------------


def person(name: str, count: int = 1, aliases: list[str] | None = None) -> Entity:
    return Entity(name, "person", count, aliases or [])


def test_a_surname_alone_is_the_one_person_the_index_knows_by_it() -> None:
    known = {"Vladimir Putin": 4, "Boris Johnson": 2, "Lyndon Johnson": 1}
    entities = [person("Putin", 3), person("Johnson", 2), Entity("Putin", "organization", 1)]
    people = canonical_people(entities, known)
    assert [(e.name, e.type, e.count, list(e.aliases)) for e in people] == [
        ("Vladimir Putin", "person", 3, ["Putin"]),
        ("Johnson", "person", 2, []),  # two Johnsons: left as written
        ("Putin", "organization", 1, []),  # types agree, or nothing
    ]


def test_the_canonical_spelling_most_documents_then_longest_then_alphabetical() -> None:
    assert canonical_spellings({"Vladimir Putin": 5, "Vladimir V. Putin": 2})[
        "Vladimir V. Putin"
    ] == ("Vladimir Putin")
    assert canonical_spellings({"Vladimir Putin": 2, "Vladimir V. Putin": 2})["Vladimir Putin"] == (
        "Vladimir V. Putin"
    )
    tie = canonical_spellings({"Joe R Biden": 1, "Joe X Biden": 1})
    assert set(tie.values()) == {"Joe R Biden"}
    # Different people stay apart: another first name, a suffix.
    apart = canonical_spellings({"Bill Clinton": 3, "Hillary Clinton": 3, "Donald Trump": 2})
    assert apart == {n: n for n in apart}
    assert short_form_targets({"Donald Trump": 9, "Donald Trump Jr.": 1}) == {}
    assert short_form_targets({"Vladimir Putin": 1, "Vladimir V. Putin": 1}) == {
        "putin": "Vladimir V. Putin"
    }


def test_a_spelling_takes_the_canonical_name_and_keeps_its_own_as_alias() -> None:
    entities = [person("Vladimir V. Putin", 2, ["Putin"])]
    (e,) = canonical_people(entities, {"Vladimir Putin": 7, "Vladimir V. Putin": 1})
    assert (e.name, e.count, list(e.aliases)) == (
        "Vladimir Putin",
        2,
        ["Putin", "Vladimir V. Putin"],
    )


def test_people_of_one_batch_count_for_each_other() -> None:
    batch = [
        page(1, "", "a.example", [person("Vladimir Putin", 2, ["Putin"])]),
        page(2, "", "b.example", [person("Putin", 1)]),
    ]
    out = across_documents(batch, Known())
    assert [[(e.name, list(e.aliases)) for e in a.entities] for a in out] == [
        [("Vladimir Putin", ["Putin"])],
        [("Vladimir Putin", ["Putin"])],
    ]


# --- through the pipeline, into the embedded index --------------------------------------------

FULL = (
    "Russian President Vladimir Putin met the delegation in Moscow on Tuesday. Vladimir Putin "
    "said the talks had been useful and that both sides would meet again next month. Officials "
    "in Moscow described the meeting as long and detailed, covering energy and trade.\n"
)
SHORT = (
    "Mr Putin told reporters in Moscow on Friday that the grain deal could be extended. Putin "
    "added that shipping through the Black Sea had resumed, and that insurers were returning. "
    "Traders in Chicago said wheat prices fell after the remarks.\n"
)
BORIS = (
    "Former prime minister Boris Johnson spoke in London on Monday about the economy. Boris "
    "Johnson said growth would return by the end of the year, and he criticised the budget.\n"
)
LYNDON = (
    "Historians say Lyndon Johnson signed the Civil Rights Act in Washington in 1964. Lyndon "
    "Johnson had pushed Congress for months before the vote, they write in a new book.\n"
)
JOHNSON = (
    "Johnson said on Wednesday in London that the plan would cost less than expected. Johnson "
    "added that a decision was due before the summer, according to people at the meeting.\n"
)


def write(folder: Path, name: str, title: str, text: str) -> None:
    (folder / name).write_text(f"{title}\n{text}", encoding="utf-8")


def person_facet(settings: Settings) -> dict[str, int]:
    found = SqliteBackend(settings.index).search(SearchRequest(facets=["person"], facet_size=50))
    return {f.value: f.count for f in found.facets["person"]}


def entities_of(settings: Settings, source_name: str) -> list[dict[str, Any]]:
    index = SqliteBackend(settings.index)
    for doc in index.iter_documents():
        if Path(doc["source"]).name == source_name:
            return [e for e in doc["entities"] if e["type"] == "person"]
    raise AssertionError(f"{source_name} not indexed")


def test_a_surname_only_document_counts_for_the_full_name_in_one_run(
    tmp_path: Path, settings: Settings
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder, "a_full.txt", "Putin meets delegation", FULL)
    write(folder, "b_short.txt", "Grain deal could be extended", SHORT)
    report = ingest([str(folder)], settings)
    assert report.counts["indexed"] == 2
    assert person_facet(settings).get("Vladimir Putin") == 2
    assert "Putin" not in person_facet(settings)
    short = entities_of(settings, "b_short.txt")
    assert [(e["name"], "Putin" in e["aliases"]) for e in short] == [("Vladimir Putin", True)]


def test_across_runs_and_two_johnsons_are_not_merged(tmp_path: Path, settings: Settings) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write(first, "a_full.txt", "Putin meets delegation", FULL)
    write(first, "c_boris.txt", "Johnson on the economy", BORIS)
    write(first, "d_lyndon.txt", "A new book on civil rights", LYNDON)
    ingest([str(first)], settings)
    write(second, "b_short.txt", "Grain deal could be extended", SHORT)
    write(second, "e_johnson.txt", "Plan costs less than expected", JOHNSON)
    ingest([str(second)], settings)
    facet = person_facet(settings)
    assert facet["Vladimir Putin"] == 2
    assert facet["Boris Johnson"] == 1 and facet["Lyndon Johnson"] == 1
    assert facet["Johnson"] == 1  # two Johnsons known: left as written
    # Processed again, the short-form document is counted once, not once a run.
    ingest([str(second)], settings, reprocess=True)
    assert person_facet(settings)["Vladimir Putin"] == 2


def test_titles_repeating_across_runs_through_the_ledger(
    tmp_path: Path, settings: Settings
) -> None:
    body = " ".join(
        f"Paragraph {i} of the story on solar installations tells of installers and grids."
        for i in range(8)
    )
    records = [
        {
            # A title given with the record, as a feed or a CMS export gives it (trafilatura
            # already cuts such a suffix off a page's <title> on its own).
            "url": f"https://sonnenseite.example/news/{n}",
            "title": f"{headline} | Solarserver Magazin",
            "html": f"<html><body><article><p>{headline}. {body} Story {n}.</p></article>"
            "</body></html>",
        }
        for n, headline in enumerate(
            ["Heat pumps sell out", "Grid fees rise again", "Balcony panels approved"]
        )
    ]
    for n, record in enumerate(records):  # one run a page
        path = tmp_path / f"run{n}.jsonl"
        path.write_text(json.dumps(record) + "\n", encoding="utf-8")
        ingest([str(path)], settings)
    titles = {
        doc["url"]: (doc["title"], doc["title_original"])
        for doc in SqliteBackend(settings.index).iter_documents()
    }
    # The first two were indexed before the name was known to repeat: kept as they were.
    assert titles["https://sonnenseite.example/news/0"][0].endswith("| Solarserver Magazin")
    assert titles["https://sonnenseite.example/news/2"] == (
        "Balcony panels approved",
        "Balcony panels approved | Solarserver Magazin",
    )
