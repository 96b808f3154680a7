"""Bulk indexing into a real Elasticsearch node: the project's backend against the floor.

The floor is ``elasticsearch.helpers.streaming_bulk`` sending the same prepared documents (their
``to_document()`` computed beforehand) with the same chunk sizes into an index made from the same
template, with one refresh at the end. The project's side is ``ElasticsearchBackend.upsert`` as
the pipeline calls it: inside ``bulk_writes()`` (one refresh at the end of the run), one call per
batch of the pipeline's size, each call converting its records and checking every item's
result. Both run in one process, alternately, ``--rounds`` times; the ratio of the two
rates is the figure (target: at least 0.9).

The documents: the example articles extracted and enriched once, then copied with a varied id
and text until there are ``--docs`` of them.

    make es   # or: bash scripts/es_node.sh start
    python bench/bench_es.py --url http://127.0.0.1:9200 --docs 5000 --rounds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from etl.backends.elasticsearch import admin as es_admin
from etl.backends.elasticsearch.backend import ElasticsearchBackend
from etl.enrich import enrich, load_nlp
from etl.extract import extract
from etl.process import process_stream
from etl.record import Article
from etl.settings import Settings
from etl.sources import discover, read_inputs

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.9
PIPELINE_BATCH = int(inspect.signature(process_stream).parameters["batch_size"].default)


def prepared_articles(count: int) -> list[Article]:
    nlp = load_nlp(Settings().spacy_model)
    base = []
    for raw in read_inputs(discover([ROOT / "examples" / "articles"]), 10 * 1024 * 1024):
        base.extend(enrich([extract(raw)], nlp))
    out = []
    for i in range(count):
        a = base[i % len(base)]
        out.append(dataclasses.replace(a, id=f"bench-{i:07d}", text=f"{a.text} Copy {i}."))
    return out


def fresh(url: str) -> Settings:
    settings = Settings(index=url, es_alias=f"bench-{uuid.uuid4().hex[:8]}")
    es_admin.setup(settings)
    return settings


def drop(client: Elasticsearch, settings: Settings) -> None:
    for name in client.indices.get(index=es_admin.index_pattern(settings)).body:
        client.indices.delete(index=name)
    client.indices.delete_index_template(name=es_admin.template_name(settings))


def floor(url: str, articles: list[Article], documents: list[dict[str, object]]) -> float:
    settings = fresh(url)
    client = Elasticsearch(url, request_timeout=120)
    index = f"{settings.es_alias}-write"
    try:
        started = time.perf_counter()
        actions = (
            {"_op_type": "index", "_index": index, "_id": a.id, "_source": doc}
            for a, doc in zip(articles, documents, strict=True)
        )
        for ok, item in streaming_bulk(
            client,
            actions,
            chunk_size=settings.es_chunk_docs,
            max_chunk_bytes=settings.es_chunk_bytes,
            raise_on_error=False,
        ):
            if not ok:
                raise RuntimeError(f"floor: a document failed: {item}")
        client.indices.refresh(index=index)
        elapsed = time.perf_counter() - started
        assert client.count(index=settings.es_alias).body["count"] == len(articles)
        return len(articles) / elapsed
    finally:
        drop(client, settings)
        client.close()


def project(url: str, articles: list[Article], batch: int) -> float:
    """``upsert`` calls of ``batch`` documents inside one ``bulk_writes()``, as a run does."""
    settings = fresh(url)
    backend = ElasticsearchBackend.from_settings(settings)
    try:
        started = time.perf_counter()
        with backend.bulk_writes():
            for i in range(0, len(articles), batch):
                results = backend.upsert(articles[i : i + batch])
                if not all(r.ok for r in results):
                    raise RuntimeError(f"project: a document failed: {results}")
        elapsed = time.perf_counter() - started
        assert backend.count() == len(articles)
        return len(articles) / elapsed
    finally:
        drop(backend.client, settings)
        backend.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:9200", help="the node (make es)")
    parser.add_argument("--docs", type=int, default=5000, help="documents per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--batch", type=int, default=PIPELINE_BATCH, help="docs per upsert call")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    print(f"preparing {args.docs} documents ...", file=sys.stderr)
    articles = prepared_articles(args.docs)
    documents = [a.to_document() for a in articles]
    # "upsert": the backend's bulk path given every document at once (chunked like the floor);
    # "pipeline": the calls a run makes, one per batch of the pipeline's size.
    measures: dict[str, Callable[[], float]] = {
        "floor": lambda: floor(args.url, articles, documents),
        "upsert": lambda: project(args.url, articles, len(articles)),
        "pipeline": lambda: project(args.url, articles, args.batch),
    }
    runs: dict[str, list[float]] = {name: [] for name in measures}
    floor(args.url, articles[:500], documents[:500])  # warm the node's JIT and caches
    names = list(measures)
    for round_no in range(args.rounds):
        for name in names[round_no % 3 :] + names[: round_no % 3]:  # rotate the order
            runs[name].append(measures[name]())
            print(f"round {round_no + 1}: {name} {runs[name][-1]:.0f} docs/s", file=sys.stderr)
    result: dict[str, object] = {"docs": args.docs, "batch": args.batch, "target": TARGET}
    for name in measures:
        result[f"{name}_docs_per_s"] = [round(r, 1) for r in runs[name]]
    medians = {}
    for name in ("upsert", "pipeline"):
        ratios = [p / f for p, f in zip(runs[name], runs["floor"], strict=True)]
        medians[name] = statistics.median(ratios)
        result[f"{name}_ratio"] = {
            "min": round(min(ratios), 3),
            "median": round(medians[name], 3),
            "max": round(max(ratios), 3),
        }
    if args.json:
        print(json.dumps(result))
    else:
        for name in ("upsert", "pipeline"):
            r = result[f"{name}_ratio"]
            print(
                f"{name} / streaming_bulk floor: min {r['min']}, median {r['median']}, "  # type: ignore[index]
                f"max {r['max']} (target >= {TARGET}); {name} {result[f'{name}_docs_per_s']} "  # type: ignore[index]
                f"docs/s, floor {result['floor_docs_per_s']}"
            )
    return 0 if medians["upsert"] >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
