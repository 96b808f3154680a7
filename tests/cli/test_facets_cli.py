"""Issue 11 as a new user checks it, through the command line: ``article-etl ingest``, then
``search --facet ... --json`` and ``show --json``.

- the example article: Crimea is a place, "US" one country, the people facet as before;
- "U.S."-style names keep their full stops;
- a Japanese news page of 400 characters is indexed, with a sensible word count;
- an English page that declares ``lang="de"`` is indexed as English, with entities;
- a page title keeps its site's name only in ``title_original``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from etl.cli.app import app
from tests.conftest import SEED_PEOPLE, SEED_PLACES
from tests.paths import SEED

runner = CliRunner()

# About 400 characters of Japanese news: no spaces between words.
JAPANESE = (
    "東京都は十五日、都内の公立小中学校の給食費を来年度から無償化する方針を明らかにした。"
    "対象となるのは区市町村立の小学校と中学校に通う約六十万人の児童・生徒で、都が費用の半額を"
    "負担し、残りを各自治体が負担する。小池百合子知事は記者会見で「子育て世帯の負担を軽くし、"
    "安心して子どもを育てられる環境を整えたい」と述べた。都によると、必要な予算は年間およそ"
    "三百億円に上る見通しで、来月開会する都議会の定例会に関連の予算案を提出する。給食費の無償化"
    "をめぐっては、すでに一部の区が独自に実施しているが、財政力の差によって地域間で格差が生じて"
    "いるとの指摘があった。都内の保護者からは歓迎の声が上がる一方、食材費の高騰が続く中で給食の"
    "質を保てるのかを懸念する声も出ている。専門家は「無償化と同時に、栄養バランスや地元食材の"
    "活用など、給食の中身についても議論を深める必要がある」と話している。"
)
ENGLISH = (
    "Chancellor Olaf Brenner met the mayor of Hamburg, Ingrid Sommer, on Tuesday to discuss "
    "the future of the city's port. Brenner said the federal government would help pay for "
    "deeper shipping lanes on the Elbe. Sommer told reporters that the port of Hamburg had "
    "lost business to Rotterdam and Antwerp over the past decade, and that the city could not "
    "carry the cost alone. Shipping company Hapag-Lloyd welcomed the talks."
)
US_NAMES = (
    "Washington, D.C.\n"
    "The U.S. Commerce Department said on Monday that Apple Inc. and Nvidia would face new "
    "rules on chip exports. Offices of the U.S. government were closed for the holiday that "
    "honours Martin Luther King Jr., the civil rights leader. Commerce Secretary Gina Raimondo "
    "said the rules would "
    "protect national security. Apple Inc. said it was studying the rules, while Nvidia's "
    "chief executive Jensen Huang said sales to China would fall."
)


def _run(index: Path, *args: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ARTICLE_ETL_")}
    env.update({"ARTICLE_ETL_INDEX": str(index), "ARTICLE_ETL_WORKERS": "1"})
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _facet(index: Path, name: str, *query: str) -> dict[str, int]:
    data = _json(_run(index, "search", *query, "--facet", name, "--json"))
    return {f["value"]: f["count"] for f in data["facets"].get(name, [])}


class Ingested:
    def __init__(self, index: Path, report: dict[str, Any]) -> None:
        self.index = index
        self.outcomes = {Path(o["source"]).name: o for o in report["outcomes"]}

    def show(self, name: str) -> dict[str, Any]:
        outcome = self.outcomes[name]
        assert outcome["outcome"] == "indexed", outcome
        doc: dict[str, Any] = _json(_run(self.index, "show", outcome["doc_id"], "--json"))
        return doc


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    if not SEED.exists():
        pytest.skip(f"the example article {SEED} is not beside this checkout")
    base = tmp_path_factory.mktemp("issue11")
    inbox = base / "inbox"
    inbox.mkdir()
    shutil.copy(SEED, inbox / SEED.name)
    (inbox / "tokyo-school-lunches.html").write_text(
        '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">'
        "<title>給食費を無償化へ　東京都</title></head><body><article>"
        f"<h1>給食費を無償化へ</h1><p>{JAPANESE}</p></article></body></html>",
        encoding="utf-8",
    )
    (inbox / "hamburg-port.html").write_text(
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
        '<meta property="og:site_name" content="Elbe Courier">'
        '<meta property="og:title" content="Berlin promises help for Hamburg\'s port | Elbe '
        'Courier">'
        "<title>Berlin promises help for Hamburg's port | Elbe Courier</title></head><body>"
        f"<article><h1>Berlin promises help for Hamburg's port</h1><p>{ENGLISH}</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    (inbox / "chip-rules.txt").write_text(US_NAMES, encoding="utf-8")
    index = base / "index.db"
    report = _json(_run(index, "ingest", str(inbox), "--json"))
    return Ingested(index, report)


def test_seed_crimea_is_a_place_and_the_people_are_as_before(ingested: Ingested) -> None:
    seed = ingested.show(SEED.name)
    query = ("Donbas",)  # only the example article
    places = _facet(ingested.index, "location", *query)
    assert "Crimea" in places
    assert places.keys() >= SEED_PLACES
    assert "Crimea" not in _facet(ingested.index, "organization", *query)
    assert set(_facet(ingested.index, "person", *query)) == SEED_PEOPLE
    # "US" is the country, with its code, and in the country facet
    (usa,) = [e for e in seed["entities"] if e["name"] == "United States"]
    assert (usa["type"], usa["country"]) == ("location", "US")
    assert {"US", "UA", "RU", "IN"} <= set(_facet(ingested.index, "country", *query))


def test_us_style_names_keep_their_full_stops(ingested: Ingested) -> None:
    doc = ingested.show("chip-rules.txt")
    forms = {n for e in doc["entities"] for n in [e["name"], *e["aliases"]]}
    assert "U.S." in forms
    assert "U.S" not in forms
    query = ("chip",)
    people = _facet(ingested.index, "person", *query)
    assert "Martin Luther King Jr." in people
    assert "Gina Raimondo" in people  # "Commerce Secretary" is no part of her name
    assert "United States" in _facet(ingested.index, "location", *query)


def test_a_japanese_page_of_400_characters_is_an_article(ingested: Ingested) -> None:
    outcome = ingested.outcomes["tokyo-school-lunches.html"]
    assert outcome["outcome"] == "indexed", outcome["reason"]
    doc = ingested.show("tokyo-school-lunches.html")
    assert doc["language"] == "ja"
    # ~400 characters read in about a minute: 150-400 word-equivalents, not 1 "word"
    assert 150 <= doc["word_count"] <= 400
    assert 0.6 <= doc["reading_time_minutes"] <= 1.8
    assert "short_text" not in doc["warning"]


def test_an_english_page_declaring_german_is_english_with_entities(ingested: Ingested) -> None:
    doc = ingested.show("hamburg-port.html")
    assert doc["language"] == "en"
    assert doc["language_declared"] == "de"
    assert "language_mismatch" in doc["warning"]
    assert "language_not_supported_by_ner" not in doc["warning"]
    people = _facet(ingested.index, "person", "Hamburg")
    assert {"Olaf Brenner", "Ingrid Sommer"} <= set(people)
    assert "Hamburg" in _facet(ingested.index, "location", "Hamburg")
    assert _facet(ingested.index, "language", "Hamburg") == {"en": 1}


def test_the_title_loses_the_site_name_and_keeps_the_original(ingested: Ingested) -> None:
    doc = ingested.show("hamburg-port.html")
    assert doc["title"] == "Berlin promises help for Hamburg's port"
    assert doc["title_original"] == "Berlin promises help for Hamburg's port | Elbe Courier"
