"""Story clusters as a reader notices them: the copies of one story (other boilerplate, another
headline, a corrected paragraph) share a story id, unrelated stories do not; a story id never
changes; search collapses a story to one hit with its number of copies, on both backends."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.backends.base import IndexBackend, SearchRequest
from etl.backends.sqlite.backend import SqliteBackend
from etl.clusters import ClusteringBackend, StoryClusters
from etl.pipeline import ingest
from etl.record import Article, make_id, text_fingerprint
from etl.settings import Settings
from tests.es_live import es_url, live_settings

STORY = (
    "Dock workers in Rotterdam voted on Wednesday to end a nine-day strike that had paralysed "
    "Europe's largest port, after the port authority and the union agreed on a new collective "
    "labour agreement covering pay, shift rosters and the use of automated cranes. The deal "
    "raises wages by 6.5 percent over two years and guarantees that no crane operator will "
    "lose a job because of automation before 2030, union negotiator Maria Okafor said. The "
    "strike involved about 4,000 workers at the container terminals and left more than 60 "
    "ships waiting at anchor in the North Sea. Shipping companies had diverted some vessels "
    "to Antwerp and Hamburg, and retailers warned that shelves could empty before the "
    "holidays. Port chief executive Boudewijn Siemons said the first ships would berth on "
    "Thursday and that it could take two weeks to clear the backlog of containers."
)
COPIES = [
    STORY + " Reporting by Anna de Vries; Editing by Tom Hughes.",
    "Sign up for our newsletter. " + STORY,
    STORY.replace("about 4,000 workers", "some 4,200 workers")
    + " (Corrects number of workers in paragraph three.)",
    STORY.rsplit(" Port chief", 1)[0] + " Follow us for updates from the port.",
    STORY.replace("voted on Wednesday", "voted overwhelmingly on Wednesday").replace(
        "two weeks", "up to two weeks"
    ),
]
OTHER = (
    "Glaciologists measured a record loss of ice on the Aletsch glacier this summer after a "
    "heatwave in July pushed the zero-degree line above 5,000 metres for eleven days in a "
    "row. The glacier lost about 2.5 metres of thickness at the Konkordiaplatz station, twice "
    "the average of the past decade, said Lena Brunner of the Swiss monitoring network."
)
# Another strike story: the same subject and many of the same words, but not the same text.
OTHER_STRIKE = (
    "Rail workers in Antwerp will strike on Friday over pay, the union said, after talks with "
    "the national railway company broke down late on Tuesday. The walkout is expected to halt "
    "most trains around the port for 24 hours, and the railway advised passengers to postpone "
    "their journeys. Union leaders said workers had lost purchasing power for three years."
)


def article(name: str, text: str, *, site: str = "Harbour Times") -> Article:
    content_hash = text_fingerprint(text)
    return Article(
        id=make_id(f"https://{name}.example/story", content_hash),
        source=f"https://{name}.example/story",
        source_kind="warc",
        raw_hash=content_hash,
        text=text,
        content_hash=content_hash,
        title=f"{name}: Rotterdam port strike ends" if "Rotterdam" in text else name,
        site=site,
        language="en",
        published="2024-11-07",
    )


def random_texts(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9)))
        for _ in range(3000)
    ]
    return [" ".join(rng.choice(words) for _ in range(150)) for _ in range(count)]


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[StoryClusters]:
    with StoryClusters(tmp_path / "ledger.db") as store:
        yield store


def test_copies_of_a_story_share_the_first_ones_id_and_other_stories_do_not(
    clusters: StoryClusters,
) -> None:
    copies = [article(f"site{i}", text) for i, text in enumerate(COPIES)]
    others = [article("glacier", OTHER), article("rail", OTHER_STRIKE)]
    assigned = clusters.assign([copies[0], others[0], *copies[1:3], others[1], *copies[3:]])
    placed = {found.article.id: found.article for found in assigned}
    copies, others = [placed[a.id] for a in copies], [placed[a.id] for a in others]
    assert {a.story_cluster for a in copies} == {copies[0].id}
    assert [a.story_cluster for a in others] == [others[0].id, others[1].id]
    assert copies[0].to_document()["story_cluster"] == copies[0].id


def test_a_document_without_a_story_is_a_story_of_its_own() -> None:
    lone = article("lone", OTHER)
    assert lone.story_cluster == ""
    assert lone.to_document()["story_cluster"] == lone.id


def test_a_new_article_joins_a_kept_story_looking_at_its_candidates_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crowd = [article(f"crowd{i}", text) for i, text in enumerate(random_texts(300))]
    first = article("first", COPIES[0])
    with StoryClusters(tmp_path / "ledger.db") as store:
        store.assign([*crowd[:150], first, *crowd[150:]])
    compared: list[str] = []
    original = StoryClusters._signatures

    def spy(self: StoryClusters, doc_ids: list[str]):  # type: ignore[no-untyped-def]
        compared.extend(doc_ids)
        return original(self, doc_ids)

    monkeypatch.setattr(StoryClusters, "_signatures", spy)
    later = article("later", COPIES[2])
    with StoryClusters(tmp_path / "ledger.db") as store:  # another run, another process
        (found,) = store.assign([later])
        assert store.count() == 302
    later = found.article
    assert later.story_cluster == first.id
    assert found.joined == first.id and found.similarity >= 0.5
    # Found through the LSH buckets: compared with a few candidates, not with the 301 others.
    assert first.id in compared and len(compared) <= 3


def test_story_ids_stay_when_articles_are_processed_again(clusters: StoryClusters) -> None:
    copies = [article(f"site{i}", text) for i, text in enumerate(COPIES)]
    clusters.assign(copies)
    again = [article(f"site{i}", text) for i, text in enumerate(COPIES)]
    # --reprocess, in another order
    again = [found.article for found in clusters.assign(list(reversed(again)))]
    assert {a.story_cluster for a in again} == {copies[0].id}


def test_documents_removed_from_the_index_are_no_story_any_more(tmp_path: Path) -> None:
    backend = ClusteringBackend(
        SqliteBackend(tmp_path / "index.db"), StoryClusters(tmp_path / "index.db")
    )
    try:
        first, second = article("site0", COPIES[0]), article("site1", COPIES[1])
        backend.upsert([first])
        backend.delete([first.id])
        backend.upsert([second])
        doc = backend.get(second.id)
        second = Article.from_document(doc) if doc is not None else second  # as it was stored
        assert second.story_cluster == second.id  # the story it would have joined is gone
        assert doc is not None and doc["story_cluster"] == second.id
    finally:
        backend.close()


def test_exact_duplicates_stay_duplicates_and_near_copies_join_the_story(
    tmp_path: Path, settings: Settings
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("Rotterdam strike ends\n\n" + COPIES[0], encoding="utf-8")
    (folder / "b.txt").write_text("Rotterdam strike ends\n\n" + COPIES[0], encoding="utf-8")
    (folder / "c.txt").write_text("Strike over in Rotterdam\n\n" + COPIES[2], encoding="utf-8")
    report = ingest([str(folder)], settings)
    by_name = {Path(o.source).name: o for o in report.outcomes}
    assert [by_name[n].outcome.value for n in ("a.txt", "b.txt", "c.txt")] == [
        "indexed",
        "duplicate",
        "indexed",
    ]
    index = SqliteBackend(settings.index)
    try:
        a, c = index.get(str(by_name["a.txt"].doc_id)), index.get(str(by_name["c.txt"].doc_id))
        assert a is not None and c is not None
        assert a["story_cluster"] == c["story_cluster"] == a["id"]
    finally:
        index.close()


# --- collapsed search, the same on both backends ------------------------------------------------

STORIES = {
    "port": [article(f"port{i}", text) for i, text in enumerate(COPIES[:3])],
    "glacier": [
        article("glacier0", OTHER, site="Alpine Science"),
        article("glacier1", OTHER + " Photos by the Swiss monitoring network.", site="Alps"),
    ],
    "rail": [article("rail0", OTHER_STRIKE, site="Rail News")],
}
CORPUS = [a for copies in STORIES.values() for a in copies]


def _sqlite(tmp_path: Path) -> Iterator[IndexBackend]:
    backend = SqliteBackend(tmp_path / "collapse.db")
    yield backend
    backend.close()


def _elasticsearch(tmp_path: Path) -> Iterator[IndexBackend]:
    from etl.backends.elasticsearch.admin import setup
    from etl.backends.elasticsearch.backend import ElasticsearchBackend

    with live_settings(es_url(), tmp_path / "ledger.db") as s:
        setup(s)
        backend = ElasticsearchBackend.from_settings(s)
        yield backend
        backend.close()


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.live_es)])
def indexed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexBackend]:
    make = {"sqlite": _sqlite, "elasticsearch": _elasticsearch}[request.param]
    for backend in make(tmp_path):
        with StoryClusters(tmp_path / "stories.db") as store:
            clustered = [found.article for found in store.assign(CORPUS)]
        assert all(r.ok for r in backend.upsert(clustered))
        yield backend


def _stories(result: object) -> dict[str, int]:
    return {h.story_cluster: h.cluster_size for h in result.hits}  # type: ignore[attr-defined]


def test_collapse_shows_one_hit_per_story_with_its_number_of_copies(
    indexed: IndexBackend,
) -> None:
    port, glacier, rail = (STORIES[k][0].id for k in ("port", "glacier", "rail"))
    plain = indexed.search(SearchRequest())
    assert plain.total == 6 and plain.stories is None
    result = indexed.search(SearchRequest(collapse=True))
    assert (result.total, result.stories) == (6, 3)
    assert _stories(result) == {port: 3, glacier: 2, rail: 1}
    hits = {h.story_cluster: h for h in result.hits}
    assert hits[port].id in {a.id for a in STORIES["port"]}


def test_collapse_counts_the_copies_that_match(indexed: IndexBackend) -> None:
    port, rail = STORIES["port"][0].id, STORIES["rail"][0].id
    strike = indexed.search(SearchRequest(query="strike", collapse=True))
    assert _stories(strike) == {port: 3, rail: 1}
    corrected = indexed.search(SearchRequest(query="corrects", collapse=True))
    assert _stories(corrected) == {port: 1}
    assert corrected.hits[0].id == STORIES["port"][2].id
    filtered = indexed.search(
        SearchRequest(query="strike", filters={"site": ["Rail News"]}, collapse=True)
    )
    assert _stories(filtered) == {rail: 1} and filtered.stories == 1


def test_collapsed_pages_count_stories(indexed: IndexBackend) -> None:
    pages = [
        indexed.search(SearchRequest(collapse=True, size=1, offset=offset)) for offset in range(4)
    ]
    seen = [h.story_cluster for page in pages for h in page.hits]
    assert len(seen) == 3 and len(set(seen)) == 3  # each story once, then nothing
    assert pages[3].hits == [] and pages[3].stories == 3


def test_collapse_keeps_facets_counting_documents(indexed: IndexBackend) -> None:
    result = indexed.search(SearchRequest(collapse=True, facets=["story_cluster", "site"]))
    counts = {v.value: v.count for v in result.facets["story_cluster"]}
    assert counts == {
        STORIES["port"][0].id: 3,
        STORIES["glacier"][0].id: 2,
        STORIES["rail"][0].id: 1,
    }
    assert sum(v.count for v in result.facets["site"]) == 6
