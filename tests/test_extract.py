"""Extraction as a reader of the index sees it: clean text, metadata, publication dates with
their provenance, derived titles, encodings, and the inputs that are refused and why."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from etl.extract import Rejected, extract
from etl.record import Article, RawInput
from etl.sources import read_file
from tests.paths import EXAMPLES

LIMIT = 10 * 1024 * 1024
BODY = (
    "The small café on the corner of Rua Augusta reopened on Monday after a renovation that "
    "took most of the year. Residents queued outside before dawn, and the owner, René Dubois, "
    "served crème brûlée to everyone who came through the door before nine o'clock. "
)


def _inputs(path: Path, max_bytes: int = LIMIT) -> list[RawInput]:
    return list(read_file(path.resolve(), max_bytes))


def _extract(path: Path) -> Article:
    (raw,) = _inputs(path)
    return extract(raw)


def _rejection(path: Path, max_bytes: int = LIMIT) -> str:
    (raw,) = _inputs(path, max_bytes)
    with pytest.raises(Rejected) as info:
        extract(raw)
    return str(info.value)


@pytest.fixture(scope="module")
def articles() -> dict[str, Article]:
    """Every example article, extracted once."""
    return {p.name: _extract(p) for p in sorted(EXAMPLES.iterdir())}


# --- boilerplate and comments --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "present", "absent"),
    [
        (
            "harbor-ledger-rotterdam-port-strike.html",
            "More than 2,400 dockworkers at the Port of Rotterdam walked off the job",
            [
                "Mariner_88",  # comment author
                "the cranes at Waalhaven for thirty years",  # comment body
                "Thirty-eight million for retraining",  # comment body
                "Join the discussion",
                "We use cookies",
                "Antwerp-Bruges posts record container volumes",  # related articles
                "Most read",
                "All rights reserved",
                "Get the Ledger Shipping Briefing",  # newsletter box
                "Share on X",
                "Tides & Weather",  # main navigation
            ],
        ),
        (
            "riverside-courier-bristol-library-reopens.html",
            "Bristol Central Library reopened its doors on Saturday",
            [
                "BristolBookworm",
                "I returned a book I borrowed in 2022",
                "strange priorities",
                "Reader comments",
                "We use essential cookies",
                "Harbourside festival announces summer line-up",
                "Jazz at the Watershed",
            ],
        ),
        (
            "ledgerline-finance-ecb-holds-rates.html",
            "The European Central Bank left its key interest rates unchanged on Thursday",
            [
                "euro_saver",
                "My mortgage renewal is in May",
                "Rents in Lisbon are the real inflation story",
                "143 partners use cookies",
                "Bund yields: what to watch in the week ahead",
                "Personal Finance",
            ],
        ),
        (
            "northwind-tech-review-solar-edge-servers.html",
            "Sunbyte",
            [
                "This website uses cookies",
                "We field-tested five rugged laptops",
                "Our best stories, every Friday",
            ],
        ),
    ],
)
def test_html_text_has_the_article_without_boilerplate_or_comments(
    articles: dict[str, Article], name: str, present: str, absent: list[str]
) -> None:
    text = articles[name].text
    assert present in text
    leaked = [phrase for phrase in absent if phrase in text]
    assert leaked == [], f"boilerplate or comments in the text of {name}"


def test_text_is_clean_lines_without_markup(articles: dict[str, Article]) -> None:
    for name, article in articles.items():
        assert "<p>" not in article.text and "</" not in article.text, name
        assert all(line == line.strip() and line for line in article.text.split("\n")), name


# --- metadata --------------------------------------------------------------------------------


def test_html_metadata(articles: dict[str, Article]) -> None:
    harbor = articles["harbor-ledger-rotterdam-port-strike.html"]
    assert harbor.title == "Rotterdam dockworkers walk out as talks over automated cranes collapse"
    assert not harbor.title_derived
    assert harbor.author == ["Daniel Ferreira"]
    assert harbor.site == "The Harbor Ledger"
    assert harbor.host == "harborledger.example"
    assert (
        harbor.url
        == "https://harborledger.example/business/rotterdam-dockworkers-strike-automation"
    )
    assert harbor.category == ["Business"]
    assert harbor.language == "en"

    northwind = articles["northwind-tech-review-solar-edge-servers.html"]
    assert northwind.author == ["Priya Raman"]
    assert northwind.site == "Northwind Tech Review"
    assert northwind.category == ["Hardware"]

    coastline = articles["coastline-sports-wire-copenhagen-half-marathon.html"]
    assert coastline.tag == ["Running", "Kenya", "Paris 2024"]
    assert coastline.category == ["Athletics"]


def test_keywords_become_separate_tags(articles: dict[str, Article]) -> None:
    """A keywords meta tag is a comma-separated list: each keyword is its own facet value."""
    harbor = articles["harbor-ledger-rotterdam-port-strike.html"]
    assert {"Port of Rotterdam", "strike", "automation", "Netherlands"} <= set(harbor.tag)
    for article in articles.values():
        assert not [t for t in article.tag if "," in t], article.source
        assert len({t.casefold() for t in article.tag}) == len(article.tag), article.source


def test_non_english_page_is_german(articles: dict[str, Article]) -> None:
    koeln = articles["rheinblick-rundschau-koeln-stadtbahn-porz.html"]
    assert koeln.language == "de"
    assert koeln.title == "Stadtrat beschließt Verlängerung der Linie 13 bis Porz"
    assert koeln.author == ["Katrin Vogel"]
    others = {name: a.language for name, a in articles.items() if a is not koeln}
    assert {name: lang for name, lang in others.items() if lang != "en"} == {}


def test_gzipped_html_is_read(articles: dict[str, Article]) -> None:
    meridian = articles["meridian-post-eu-pyrenees-interconnectors.html.gz"]
    assert meridian.title == "EU ministers back fast-track funding for Pyrenees power links"
    assert meridian.site == "The Meridian Post"
    assert meridian.word_count > 300


# --- publication dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "sources", "confidences"),
    [
        # JSON-LD with a time and an offset: kept whole, the day is the day where it was published
        (
            "harbor-ledger-rotterdam-port-strike.html",
            "2024-11-07T09:42:00+01:00",
            {"structured_data"},
            {"high"},
        ),
        (
            "northwind-tech-review-solar-edge-servers.html",
            "2025-09-22T07:30:00+00:00",
            {"meta"},
            {"high"},
        ),
        ("alpine-science-daily-aletsch-glacier-melt.html", "2025-03-14", {"url"}, {"medium"}),
        (
            "riverside-courier-bristol-library-reopens.html",
            "2025-06-04",
            {"text"},
            {"low", "medium"},
        ),
        # microdata <meta itemprop="datePublished">: structured data, stated in a meta element
        (
            "rheinblick-rundschau-koeln-stadtbahn-porz.html",
            "2026-01-19T06:00:00+01:00",
            {"structured_data", "meta"},
            {"high"},
        ),
        # <time class="published" datetime=...> without pubdate/itemprop: found by htmldate
        (
            "coastline-sports-wire-copenhagen-half-marathon.html",
            "2024-04-21T16:05:00+02:00",
            {"meta", "text"},
            {"high", "medium", "low"},
        ),
        ("meridian-post-eu-pyrenees-interconnectors.html.gz", "2025-12-01", {"meta"}, {"high"}),
        # <meta name="date">: may be any date of the page, so only as sure as the library's
        # agreement makes it
        (
            "ledgerline-finance-ecb-holds-rates.html",
            "2026-02-05T14:15:00+01:00",
            {"meta"},
            {"medium"},
        ),
        ("vermont-landfill-solar-cooperative.md", "2026-04-02", {"text"}, {"low", "medium"}),
    ],
)
def test_published_date_value_source_and_confidence(
    articles: dict[str, Article], name: str, value: str, sources: set[str], confidences: set[str]
) -> None:
    article = articles[name]
    assert article.published == value
    assert article.published_source in sources
    assert article.published_confidence in confidences
    assert "no_date" not in article.warning


def test_comment_dates_do_not_become_the_publication_date(articles: dict[str, Article]) -> None:
    # The Courier's comments are dated 5-9 June; the article says "Published on 4 June 2025".
    assert articles["riverside-courier-bristol-library-reopens.html"].published == "2025-06-04"


def test_undated_text_has_no_publication_date_and_keeps_the_file_time_apart(seed: Path) -> None:
    article = _extract(seed)
    mtime = datetime.fromtimestamp(seed.stat().st_mtime, tz=UTC).date().isoformat()
    assert article.published is None  # never "published today" because the file is new
    assert article.published_source is None and article.published_confidence is None
    assert "no_date" in article.warning
    assert (article.file_modified or "")[:10] == mtime


# --- titles ----------------------------------------------------------------------------------


def test_plain_text_without_title_line_gets_a_derived_title(seed: Path) -> None:
    article = _extract(seed)
    assert article.title_derived is True
    assert "title_derived" in article.warning
    assert article.title.startswith("Later this week President of the Russian Federation")
    assert len(article.title.rstrip("…").split()) <= 12
    assert article.text.startswith("Later this week President")  # the first line stays text
    assert article.language == "en"
    assert article.word_count > 300


def test_text_without_title_line_keeps_accented_names(articles: dict[str, Article]) -> None:
    lisbon = articles["lisbon-lost-film-restoration.txt"]
    assert lisbon.title_derived is True
    assert "title_derived" in lisbon.warning
    assert lisbon.title.startswith("In a climate-controlled basement beneath Lisbon")
    assert "Joaquim Conceição Araújo" in lisbon.text
    assert "Nazaré" in lisbon.text


def test_text_with_a_title_line_uses_it(articles: dict[str, Article]) -> None:
    azores = articles["azores-seafloor-cable-sensing.txt"]
    title = "Seafloor cable turns Azores ocean into a listening post for earthquakes and whales"
    assert azores.title == title
    assert azores.title_derived is False
    assert "title_derived" not in azores.warning
    assert not azores.text.startswith(title)  # the title line is not repeated as text
    assert "São Miguel" in azores.text
    kenya = articles["kenya-drought-early-warning-alerts.txt"]
    assert kenya.title.startswith("Kenya's pastoralists turn to phone alerts")
    assert kenya.title_derived is False


def test_markdown_title_and_rendered_text(articles: dict[str, Article]) -> None:
    md = articles["vermont-landfill-solar-cooperative.md"]
    assert md.title == "Vermont neighbours build a solar cooperative on an old landfill"
    assert md.title_derived is False
    assert "From landfill to power plant" in md.text  # a ## heading, kept as text
    assert "#" not in md.text and "*By" not in md.text  # rendered, not raw Markdown
    assert md.language == "en"


# --- JSON Lines ------------------------------------------------------------------------------


def _page(title: str, charset: str = "utf-8") -> str:
    return (
        f'<html><head><meta charset="{charset}"><title>{title}</title></head><body>'
        f"<article><h1>{title}</h1><p>{BODY}</p><p>{BODY}</p></article></body></html>"
    )


def test_json_lines_records_each_become_an_input(tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    lines = [
        json.dumps(
            {"url": "https://cafe.example/2025/05/06/reopens", "html": _page("Café reopens")}
        ),
        json.dumps({"url": "https://news.example/b", "text": "Corner café reopens\n\n" + BODY * 2}),
        "{this is not json",
        json.dumps({"url": "https://news.example/c"}),
        json.dumps(["not", "an", "object"]),
    ]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    raws = _inputs(path)
    assert [r.key for r in raws] == [f"{path.resolve()}#L{n}" for n in range(1, 6)]
    assert [r.kind for r in raws] == ["jsonl"] * 5

    html_article = extract(raws[0])
    assert html_article.title == "Café reopens"
    assert "René Dubois" in html_article.text
    assert html_article.url == "https://cafe.example/2025/05/06/reopens"
    assert (html_article.published, html_article.published_source) == ("2025-05-06", "url")

    text_article = extract(raws[1])
    assert text_article.title == "Corner café reopens"
    assert text_article.url == "https://news.example/b"
    assert text_article.host == "news.example"

    assert "invalid JSON on line 3" in (raws[2].rejection or "")
    assert raws[3].rejection == 'record has neither "html" nor "text"'
    assert raws[4].rejection == "JSON Lines record is not an object"
    for raw in raws[2:]:
        with pytest.raises(Rejected):
            extract(raw)


def test_json_lines_html_ignores_its_meta_charset(tmp_path: Path) -> None:
    """The record's HTML was already Unicode inside the JSON; a stale <meta charset> must not
    turn "café" into "cafÃ©"."""
    path = tmp_path / "one.jsonl"
    record = {"url": "https://cafe.example/x", "html": _page("Café reopens", "iso-8859-1")}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    article = extract(_inputs(path)[0])
    assert article.title == "Café reopens"
    assert "café" in article.text and "Ã" not in article.text


# --- encodings -------------------------------------------------------------------------------


def test_latin1_text_decodes_with_encoding_guessed(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(("Café reopens in the old town\n\n" + BODY * 2).encode("latin-1"))
    article = _extract(path)
    assert article.title == "Café reopens in the old town"
    assert (
        "café" in article.text and "René Dubois" in article.text and "crème brûlée" in article.text
    )
    assert "\ufffd" not in article.text
    assert "encoding_guessed" in article.warning


def test_utf8_bom_is_not_in_the_text(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + ("Café reopens in the old town\n\n" + BODY * 2).encode())
    article = _extract(path)
    assert article.title == "Café reopens in the old town"  # no BOM glued to the title
    assert "\ufeff" not in article.title + article.text
    assert "crème brûlée" in article.text
    assert "encoding_guessed" not in article.warning


def test_utf8_text_is_not_guessed(articles: dict[str, Article]) -> None:
    assert "encoding_guessed" not in articles["lisbon-lost-film-restoration.txt"].warning


def test_html_with_declared_latin1_charset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.html"
    path.write_bytes(_page("Café reopens", "iso-8859-1").encode("latin-1"))
    article = _extract(path)
    assert article.title == "Café reopens"
    assert "crème brûlée" in article.text
    assert "encoding_guessed" not in article.warning


# --- rejections ------------------------------------------------------------------------------


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    assert "binary" in _rejection(path)


def test_empty_and_blank_files_are_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert "empty" in _rejection(empty)
    blank = tmp_path / "blank.html"
    blank.write_bytes(b"  \n\n\t \n")
    assert "empty" in _rejection(blank)


def test_too_large_file_is_rejected_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.txt"
    path.write_text("word " * 1000)

    def no_reading(self: Path) -> bytes:
        raise AssertionError(f"{self} was read although it is over the limit")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    (raw,) = _inputs(path, max_bytes=1000)
    assert raw.data == b""
    assert "too large" in (raw.rejection or "")
    with pytest.raises(Rejected, match="too large"):
        extract(raw)


def test_page_of_navigation_links_is_not_an_article(tmp_path: Path) -> None:
    links = "".join(
        f'<li><a href="/section/{i}">Port operators report record volumes in quarter {i}</a></li>'
        for i in range(20)
    )
    path = tmp_path / "section.html"
    path.write_text(
        "<!DOCTYPE html><html lang='en'><head><title>Business | The Harbor Ledger</title></head>"
        "<body><header><nav><ul><li><a href='/'>Home</a></li><li><a href='/news'>News</a></li>"
        f"</ul></nav></header><main><h1>Business</h1><ul>{links}</ul></main>"
        "<footer><a href='/about'>About us</a> | <a href='/privacy'>Privacy</a></footer>"
        "</body></html>"
    )
    assert "not an article" in _rejection(path)


def test_short_text_is_not_an_article(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("Meeting moved to Tuesday.\n\nBring the slides and the budget sheet.\n")
    assert "not an article" in _rejection(path)


def test_gzip_bomb_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bomb.html.gz"
    path.write_bytes(gzip.compress(b"<html><body>" + b" " * (8 * 1024 * 1024)))
    assert path.stat().st_size < 20_000
    reason = _rejection(path)
    assert "gzip bomb" in reason


def test_corrupt_gzip_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "broken.html.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage that is not deflate data")
    assert "gzip" in _rejection(path)
