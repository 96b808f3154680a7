"""Date benchmark: date-mention values per TimeML convention, and publication dates of web pages
per confidence level against trafilatura and htmldate alone.

    python bench/bench_dates.py            # summary tables and a JSON line
    python bench/bench_dates.py --verbose  # every mention and page, right or wrong
    python bench/bench_dates.py --profile-ingest --docs 120 [--json] [--no-fast-path]
                                           # share of ingest CPU spent parsing dates (cProfile)

The labelled data is the project's own (bench/data/dates/), written for this benchmark:

* ``sentences.jsonl``: sentences with a publication date; every date expression is marked
  ``[[text|TIMEX3 value]]`` (``-`` = must stay unresolved). Mentions are found by spaCy (the
  enrichment's model) and resolved with the sentence's tags, as in the pipeline
  ("end to end"); the normaliser is also scored alone, given the gold spans. A mention is
  right when a mention of ours overlapping the gold span has the gold value (for ``-``: when
  no resolved mention overlaps it).
* ``pages.jsonl`` and ``pages/``: HTML pages with their URL, the publication date a reader
  would give (a day, a month "2015-01" when only that is known, or null when undated) and
  where it appears. The article extraction's date is compared with the gold value, at its
  granularity ("2024-11-07T09:42:00+01:00" is right for "2024-11-07"; a day is wrong for a
  month); so are trafilatura's metadata date and htmldate's date for the same page and URL.

``held_back`` marks rows written after the rules: ``v1`` after the first version of the rules
(some rules were then made more general after seeing them fail: see the report of issue 10),
``v2`` after the last change of the rules, never used to change them. Each batch is also
reported on its own. This is a small, self-written set: it shows that each convention works
and where it does not, not how the project does on other people's pages (the team measures
that on held-out public gold data).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import pstats
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl.dates import DocDates, mentions_in_text  # noqa: E402
from etl.record import DateMention  # noqa: E402

DATA = ROOT / "bench" / "data" / "dates"
MARK = re.compile(r"\[\[([^|\]]+)\|([^\]]+)\]\]")
JOINER = re.compile(r"\s*(?:/|-|–|to|and|or|through)\s*")


@dataclass(frozen=True, slots=True)
class Gold:
    start: int
    end: int
    value: str  # "-": must stay unresolved


def parse_marked(text: str) -> tuple[str, list[Gold]]:
    plain, golds, pos = "", [], 0
    for m in MARK.finditer(text):
        plain += text[pos : m.start()]
        golds.append(Gold(len(plain), len(plain) + len(m[1]), m[2]))
        plain += m[1]
        pos = m.end()
    return plain + text[pos:], golds


def gold_phrases(plain: str, golds: list[Gold]) -> list[tuple[int, int]]:
    """Gold spans as phrases: "1957-58" is one phrase naming two years."""
    spans: list[tuple[int, int]] = []
    for g in golds:
        if spans and JOINER.fullmatch(plain[spans[-1][1] : g.start]):
            spans[-1] = (spans[-1][0], g.end)
        else:
            spans.append((g.start, g.end))
    return spans


def right(gold: Gold, ours: list[DateMention]) -> bool:
    overlapping = [
        m for m in ours if m.span is not None and m.span[0] < gold.end and gold.start < m.span[1]
    ]
    if gold.value == "-":
        return not any(m.resolved for m in overlapping)
    return any(m.resolved and m.value == gold.value for m in overlapping)


def bench_mentions(verbose: bool) -> dict[str, Any]:
    from etl.enrich import load_nlp
    from etl.settings import DEFAULT_MODEL

    nlp = load_nlp(DEFAULT_MODEL)
    rows = [json.loads(line) for line in (DATA / "sentences.jsonl").open(encoding="utf-8")]
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, end to end, given span
    batches: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    ours_resolved = ours_right = 0
    for row in rows:
        plain, golds = parse_marked(row["text"])
        ref = date.fromisoformat(row["published"])
        doc = nlp(plain)
        found = DocDates()
        found.add(plain, plain, doc)
        ours = found.mentions(plain, ref)
        tokens = [(t.idx, t.text, t.tag_) for t in doc]
        given = mentions_in_text(plain, gold_phrases(plain, golds), ref, tokens)
        for m in ours:
            if m.resolved:
                ours_resolved += 1
                ours_right += any(
                    g.value == m.value and m.span and m.span[0] < g.end and g.start < m.span[1]
                    for g in golds
                )
        for g in golds:
            e2e, alone = right(g, ours), right(g, given)
            counts = table[row["convention"]]
            counts[0] += 1
            counts[1] += e2e
            counts[2] += alone
            batch = batches[row["held_back"] or "written with the rules"]
            batch[0] += 1
            batch[1] += e2e
            batch[2] += alone
            if verbose or not (e2e and alone):
                got = [
                    f"{m.text!r}={m.value}"
                    for m in ours
                    if m.span and m.span[0] < g.end and g.start < m.span[1]
                ]
                print(
                    f"  {'ok ' if e2e else 'BAD'} {'ok ' if alone else 'BAD'} {row['id']} "
                    f"{plain[g.start : g.end]!r} gold={g.value} ours={got or 'no mention'}"
                    + (f"  [held back {row['held_back']}]" if row["held_back"] else "")
                )
    n = sum(c[0] for c in table.values())
    e2e = sum(c[1] for c in table.values())
    alone = sum(c[2] for c in table.values())
    print(f"\nDate mentions: {len(rows)} sentences, {n} gold TIMEX3 values")
    print(f"{'convention':38} {'n':>3} {'end to end':>11} {'given span':>11}")
    for conv in sorted(table):
        c = table[conv]
        print(f"{conv:38} {c[0]:>3} {c[1] / c[0]:>11.2f} {c[2] / c[0]:>11.2f}")
    print(f"{'all':38} {n:>3} {e2e / n:>11.2f} {alone / n:>11.2f}")
    for name in sorted(batches):
        b = batches[name]
        label = name if name.startswith("written") else f"held back {name}"
        print(f"  {label:36} {b[0]:>3} {b[1] / b[0]:>11.2f} {b[2] / b[0]:>11.2f}")
    precision = ours_right / ours_resolved if ours_resolved else 0.0
    print(
        f"end to end: {ours_resolved} resolved mentions, {ours_right} with a gold value "
        f"(precision {precision:.2f}; a value for an unmarked phrase counts as wrong)"
    )
    return {
        "mentions": n,
        "end_to_end_accuracy": round(e2e / n, 3),
        "given_span_accuracy": round(alone / n, 3),
        "by_batch_end_to_end": {k: round(v[1] / v[0], 3) for k, v in sorted(batches.items())},
        "precision_end_to_end": round(precision, 3),
        "by_convention": {k: round(v[1] / v[0], 3) for k, v in sorted(table.items())},
    }


def bench_speed() -> dict[str, Any]:
    """Normalising the gold phrases against 200 publication dates, without spaCy: how many
    reach dateparser, and phrases per second with cold and warm caches."""
    from etl.dates import dateparser_adapter, normalise_mentions
    from etl.dates import normalise as normaliser

    phrases = []
    for line in (DATA / "sentences.jsonl").open(encoding="utf-8"):
        plain, golds = parse_marked(json.loads(line)["text"])
        phrases += [plain[s:e] for s, e in gold_phrases(plain, golds)]
    refs = [date.fromordinal(date(2010, 1, 1).toordinal() + 11 * k) for k in range(200)]
    calls = 0
    real = dateparser_adapter.date_data_parser

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def get_date_data(self, text: str) -> Any:
            nonlocal calls
            calls += 1
            return self.inner.get_date_data(text)

    dateparser_adapter.date_data_parser = lambda base: Counting(real(base))  # type: ignore[assignment]
    try:
        normaliser.normalise_one.cache_clear()
        dateparser_adapter.dateparser_fallback.cache_clear()
        started = time.perf_counter()
        n = 0
        for ref in refs:
            n += len(normalise_mentions(phrases, ref))
        cold = time.perf_counter() - started
        started = time.perf_counter()
        for ref in refs:
            normalise_mentions(phrases, ref)
        warm = time.perf_counter() - started
    finally:
        dateparser_adapter.date_data_parser = real
    total = len(phrases) * len(refs)
    print(
        f"\nNormaliser: {len(phrases)} phrases x {len(refs)} publication dates: "
        f"{total / cold:,.0f} phrases/s (caches cold), {total / warm:,.0f} phrases/s (warm); "
        f"{calls} dateparser calls"
    )
    return {"phrases_per_second_cold": round(total / cold), "dateparser_calls": calls}


def page_right(gold: str | None, value: str | None) -> bool:
    if gold is None:
        return value is None
    if value is None:
        return False
    if len(gold) == 7:  # a month: the day is not known, so a day is an invented one
        return value == gold
    return len(value) >= 10 and value[:10] == gold


def bench_pages(verbose: bool) -> dict[str, Any]:
    import trafilatura
    from htmldate import find_date

    from etl.extract import Rejected, extract
    from etl.record import RawInput

    labels = [json.loads(line) for line in (DATA / "pages.jsonl").open(encoding="utf-8")]
    by_conf: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    scores = {"ours": [0, 0], "trafilatura": [0, 0], "htmldate": [0, 0]}  # dated pages
    undated = {"ours": [0, 0], "trafilatura": [0, 0], "htmldate": [0, 0]}
    batches: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    started = time.perf_counter()
    for label in labels:
        html = (DATA / "pages" / label["file"]).read_bytes()
        raw = RawInput(
            key=label["file"], kind="file", data=html, media_type="html", url=label["url"]
        )
        try:
            article = extract(raw, min_words=0)
            ours, conf = article.published, article.published_confidence or "none"
        except Rejected as exc:
            ours, conf = None, f"rejected: {exc}"
        text = html.decode("utf-8")
        traf = trafilatura.extract_metadata(text, default_url=label["url"]).date
        alone = find_date(text, url=label["url"], original_date=True)
        gold = label["published"]
        results = {"ours": ours, "trafilatura": traf, "htmldate": alone}
        bucket = scores if gold is not None else undated
        for name, value in results.items():
            bucket[name][0] += 1
            bucket[name][1] += page_right(gold, value)
        ok = page_right(gold, ours)
        by_conf[conf if ours else "none (undated)"][0] += 1
        by_conf[conf if ours else "none (undated)"][1] += ok
        batch = batches[label["held_back"] or "written with the rules"]
        batch[0] += 1
        batch[1] += ok
        if verbose or not ok:
            print(
                f"  {'ok ' if ok else 'BAD'} {label['file']:38} gold={gold} ours={ours} ({conf}) "
                f"trafilatura={traf} htmldate={alone}"
                + (f"  [held back {label['held_back']}]" if label["held_back"] else "")
            )
    seconds = time.perf_counter() - started

    def rate(pair: list[int]) -> float:
        return pair[1] / pair[0] if pair[0] else 0.0

    print(
        f"\nPublication dates: {len(labels)} pages ({scores['ours'][0]} dated, "
        f"{undated['ours'][0]} undated)"
    )
    print(f"{'':28} {'dated pages':>12} {'undated pages':>14}")
    for name in ("ours", "trafilatura", "htmldate"):
        label = {
            "ours": "article-etl",
            "trafilatura": "trafilatura alone",
            "htmldate": "htmldate alone (original_date)",
        }[name]
        print(f"{label:28} {rate(scores[name]):>12.2f} {rate(undated[name]):>14.2f}")
    print(f"\n{'confidence':28} {'pages':>6} {'right':>6}")
    for conf in ("high", "medium", "low", "none (undated)"):
        if conf in by_conf:
            c = by_conf[conf]
            print(f"{conf:28} {c[0]:>6} {rate(c):>6.2f}")
    print(f"\n{'pages':28} {'pages':>6} {'right':>6}")
    for name in sorted(batches):
        label = name if name.startswith("written") else f"held back {name}"
        print(f"{label:28} {batches[name][0]:>6} {rate(batches[name]):>6.2f}")
    print(f"({seconds:.1f} s for extraction and both libraries)")
    return {
        "pages": len(labels),
        "dated_accuracy": round(rate(scores["ours"]), 3),
        "dated_accuracy_trafilatura": round(rate(scores["trafilatura"]), 3),
        "dated_accuracy_htmldate": round(rate(scores["htmldate"]), 3),
        "undated_right": round(rate(undated["ours"]), 3),
        "undated_right_trafilatura": round(rate(undated["trafilatura"]), 3),
        "by_confidence": {k: round(rate(v), 3) for k, v in by_conf.items()},
        "by_batch": {k: round(rate(v), 3) for k, v in sorted(batches.items())},
    }


# Where the profiled time is attributed: a function belongs to the first group whose path
# fragment its file's path contains. The mention normaliser and the page-date rules are apart:
# only the first parses date phrases; the second picks a page's date (and calls htmldate).
PROFILE_GROUPS = {
    "date mentions (etl.dates)": ("/etl/dates/", "/etl/dates.py"),
    "page dates (etl.dates.pubdate)": (
        "/etl/dates/pubdate.py",
        "/etl/dates/page_evidence.py",
        "/etl/pubdate.py",
    ),
    "dateparser": ("/dateparser/",),
    "htmldate": ("/htmldate/",),
}
# dateparser called directly by the mention normaliser (its import excluded: that goes
# through importlib); the rest of dateparser's time comes from other callers (etl.extract).
DATEPARSER_FROM_DATES = "dateparser, called by etl.dates"


def _group_of(filename: str) -> str | None:
    # The most specific fragment wins: pubdate.py and page_evidence.py lie inside etl/dates/.
    best: tuple[int, str] | None = None
    for group, fragments in PROFILE_GROUPS.items():
        for fragment in fragments:
            if fragment in filename and (best is None or len(fragment) > best[0]):
                best = (len(fragment), group)
    return best[1] if best else None


def _is_transparent(func: tuple[str, int, str]) -> bool:
    # C functions (any, sorted, exec: cProfile files them under "~"), the import machinery and
    # this benchmark's stand-in for the normaliser run on behalf of whoever called them.
    return (
        func[0] == "~"
        or func[0].startswith("<frozen importlib")
        or (func[0] == __file__ and func[2] == "dateparser_first")
    )


def inclusive_seconds(stats: pstats.Stats) -> dict[str, float]:
    """Seconds spent inside each group, its callees included: the cumulative time of every call
    into the group from a function outside it, so nested calls are counted once.

    A C function (``any``, ``exec``) or the import machinery may sit between two functions of
    a group: a call into the group from one counts for the share of its time that was itself
    called from outside the group."""
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]

    def outside_share(func: Any, group: str, depth: int = 0) -> float:
        callers = table[func][4] if func in table else {}
        total = sum(edge[3] for edge in callers.values())
        if not total or depth > 20:
            return 1.0
        outside = 0.0
        for caller, edge in callers.items():
            if _group_of(caller[0]) == group:
                continue
            weight = outside_share(caller, group, depth + 1) if _is_transparent(caller) else 1.0
            outside += edge[3] * weight
        return float(outside / total)

    out = dict.fromkeys(PROFILE_GROUPS, 0.0)
    out[DATEPARSER_FROM_DATES] = 0.0
    for func, (_cc, _nc, _tt, _ct, callers) in table.items():
        group = _group_of(func[0])
        if group is None:
            continue
        for caller, edge in callers.items():
            caller_group = _group_of(caller[0])
            if caller_group == group:
                continue
            share = outside_share(caller, group) if _is_transparent(caller) else 1.0
            out[group] += edge[3] * share
            if group == "dateparser" and caller_group == "date mentions (etl.dates)":
                out[DATEPARSER_FROM_DATES] += edge[3]
    return out


@contextlib.contextmanager
def without_fast_path() -> Iterator[None]:
    """Every phrase with a digit asked to dateparser, uncached, before the rules: the cost of
    parsing without the project's rules and caches (the rules still decide the values)."""
    from etl.dates import dateparser_adapter
    from etl.dates import normalise as normaliser
    from etl.dates.vocabulary import clean_phrase

    cached = normaliser.normalise_one
    uncached = cached.__wrapped__

    def dateparser_first(text: str, ref: date | None, tense: str) -> Any:
        phrase = clean_phrase(text)[0]
        if any(c.isdigit() for c in phrase):
            dateparser_adapter.ask_dateparser(phrase, ref)
        return uncached(text, ref, tense)

    normaliser.normalise_one = dateparser_first  # type: ignore[assignment]
    try:
        yield
    finally:
        normaliser.normalise_one = cached


def profile_ingest(docs: int, fast_path: bool = True) -> dict[str, Any]:
    """The pipeline's processing (extract, then enrich with spaCy and dates) of the benchmark
    corpus in one process under cProfile: the share of its time spent in each group."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_pipeline import DEFAULT_SOURCES, PIPELINE_BATCH, build_corpus

    from etl.enrich import load_nlp
    from etl.process import ProcessOptions, process_batch
    from etl.settings import Settings
    from etl.sources import discover, read_inputs

    settings = Settings.from_env()
    options = ProcessOptions.of(settings)
    with tempfile.TemporaryDirectory(prefix="bench-dates-") as tmp:
        corpus = Path(tmp) / "corpus"
        build_corpus([s for s in DEFAULT_SOURCES if s.exists()], corpus, docs)
        raws = list(read_inputs(discover([corpus]), settings.max_input_bytes))
    load_nlp(settings.spacy_model)  # the model load is not ingest work
    # CPU time, not wall time: other processes on the machine do not move the shares.
    profiler = cProfile.Profile(time.process_time)
    processed = 0
    started = time.perf_counter()
    with contextlib.nullcontext() if fast_path else without_fast_path():
        profiler.enable()
        for i in range(0, len(raws), PIPELINE_BATCH):
            processed += len(process_batch(raws[i : i + PIPELINE_BATCH], options))
        profiler.disable()
    wall = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    total: float = stats.total_tt  # type: ignore[attr-defined]
    seconds = inclusive_seconds(stats)
    print(
        f"\nIngest processing profiled: {processed} documents, {total:.1f} CPU s under cProfile "
        f"({wall:.1f} s wall)"
    )
    print(f"{'inside':34} {'CPU s':>8} {'share':>7}")
    for group, value in seconds.items():
        print(f"{group:34} {value:>8.2f} {value / total:>7.1%}")
    return {
        "documents": processed,
        "fast_path": fast_path,
        "profiled_cpu_seconds": round(total, 2),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": {k: round(v, 3) for k, v in seconds.items()},
        "share": {k: round(v / total, 4) for k, v in seconds.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="print every mention and page")
    parser.add_argument(
        "--profile-ingest",
        action="store_true",
        help="only profile the pipeline's processing of the benchmark corpus (bench_pipeline's "
        "varied copies of the example articles) and print the share of time in date parsing",
    )
    parser.add_argument(
        "--docs", type=int, default=120, help="documents for --profile-ingest (default: 120)"
    )
    parser.add_argument(
        "--no-fast-path",
        action="store_true",
        help="with --profile-ingest: ask dateparser about every phrase with a digit, uncached, "
        "to measure what the rules and caches save",
    )
    parser.add_argument("--json", action="store_true", help="with --profile-ingest: JSON only")
    args = parser.parse_args(argv)
    if args.profile_ingest:
        if args.json:
            with contextlib.redirect_stdout(sys.stderr):
                profile = profile_ingest(args.docs, not args.no_fast_path)
            print(json.dumps({"benchmark": "dates-profile", "profile": profile}))
        else:
            profile_ingest(args.docs, not args.no_fast_path)
        return 0
    mentions = bench_mentions(args.verbose)
    speed = bench_speed()
    pages = bench_pages(args.verbose)
    print(json.dumps({"benchmark": "dates", "mentions": mentions, "speed": speed, "pages": pages}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
