"""What a document learns from the others, right before it is indexed: its title without the
segments that repeat across its site's pages (``etl.titles``: "... | Solarserver Magazin"),
and its people under their names across the index (``etl.people``: "Putin" alone is Vladimir
Putin when the index knows one Putin).

Pure: ``across_documents`` takes a batch of articles and what the ledger knows of the other
documents (``etl.ledger.known.Known``, looked up once per batch for ``wanted``); the pipeline
(``etl.pipeline.Run``) does the lookup before deciding and notes each indexed document's
``facts_of`` once it is recorded. The pages of one batch count for each other; the run's
earlier batches and earlier runs count through the ledger.

Documents indexed before a segment was known to repeat (the first two pages of a site) or
before a person's full name was known keep what they were indexed with until they are
processed again (``article-etl ingest --reprocess``); the canonical spelling of a name may
change as documents come, and earlier documents keep theirs the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from etl.ledger.known import Facts, Known, Segment
from etl.people import canonical_people, full_names, surname_key, wanted_surnames
from etl.record import Article
from etl.titles import REPEATS_ON_OTHER_PAGES, end_segments, site_key, strip_repeated


def facts_of(article: Article) -> Facts:
    """What ``article`` adds to the ledger: its title's end segments (under its site), the
    full names of the people it names, as it spells them."""
    site = site_key(article.host, article.site)
    segments: list[Segment] = []
    if site and article.title and not article.title_derived:
        segments = [(site, position, key) for position, key in end_segments(article.title)]
    people = [(surname_key(name), name) for name in full_names(article.entities)]
    return Facts(segments=segments, people=people)


def wanted(facts: Iterable[tuple[Article, Facts]]) -> tuple[set[Segment], set[str]]:
    """What to ask the ledger about a batch: its segments, the surnames of its people."""
    segments: set[Segment] = set()
    surnames: set[str] = set()
    for article, f in facts:
        segments.update(f.segments)
        surnames.update(wanted_surnames(article.entities))
    return segments, surnames


def across_documents(articles: Sequence[Article], known: Known) -> list[Article]:
    """The batch's articles with titles and people as the whole index has them (see the
    module's documentation). ``known`` is of the other documents: the batch's own count too."""
    facts = [facts_of(a) for a in articles]
    in_batch: Counter[Segment] = Counter(seg for f in facts for seg in set(f.segments))
    documents: Counter[str] = Counter(dict(known.people))
    documents.update(name for f in facts for name in {name for _s, name in f.people})
    return [
        _with_people(_with_title(article, f, in_batch, known.segments), documents)
        for article, f in zip(articles, facts, strict=True)
    ]


def _with_title(
    article: Article, f: Facts, in_batch: Counter[Segment], known: Mapping[Segment, int]
) -> Article:
    repeating = {
        (position, key)
        for seg in f.segments
        for _site, position, key in [seg]
        if known.get(seg, 0) + in_batch[seg] - 1 >= REPEATS_ON_OTHER_PAGES
    }
    if not repeating:
        return article
    title = strip_repeated(article.title, repeating)
    if title == article.title:
        return article
    return replace(article, title=title, title_original=article.title_original or article.title)


def _with_people(article: Article, documents: Mapping[str, int]) -> Article:
    entities = canonical_people(article.entities, documents)
    return article if entities == list(article.entities) else replace(article, entities=entities)
