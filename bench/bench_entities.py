"""Entity benchmark: are the people, organisations and places the facets show the ones a reader
would list?

The labelled set is ``bench/entities_gold.jsonl``: short news texts, each with the people,
organisations and places a reader would list (full names without titles; places by their usual
English name). Each text is ingested the way users ingest JSON Lines (``{"url", "text"}``
records through ``pipeline.ingest`` into a fresh embedded index) and the stored records are
scored, beside raw spaCy (the model's PERSON / ORG / GPE+LOC+FAC spans as written) on the same
stored texts.

Scoring, per type and over every document:

- a gold name is *found* when an entity of its type has it as its name or one of its aliases
  (case and spacing folded);
- a facet value (an entity's name) is *right* when that entity matches a gold name of its
  type in the same way;
- precision = right values / values shown, recall = gold names found / gold names;
- per-document entity-set F1: F1 of the document's person+organisation+location sets,
  averaged over the documents.

    python bench/bench_entities.py                 # every text, by split
    python bench/bench_entities.py --split heldout --errors   # and each miss and wrong value
    python bench/bench_entities.py --json

The ``heldout`` texts were written after the rules, to see that they generalise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl import pipeline  # noqa: E402
from etl.backends.sqlite.backend import SqliteBackend  # noqa: E402
from etl.enrich import load_nlp  # noqa: E402
from etl.settings import DEFAULT_MODEL, Settings  # noqa: E402

GOLD = ROOT / "bench" / "entities_gold.jsonl"
TYPES = ("person", "organization", "location")
RAW_TYPES = {"PERSON": "person", "ORG": "organization", "GPE": "location", "LOC": "location"}
RAW_TYPES["FAC"] = "location"

# One predicted entity: its type, its facet value, and every form that may match a gold name.
Predicted = tuple[str, str, frozenset[str]]


def fold(name: str) -> str:
    return " ".join(name.split()).casefold()


@dataclass
class Score:
    shown: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    right: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    gold: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    doc_f1: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, doc_id: str, gold: dict[str, list[str]], predicted: list[Predicted]) -> None:
        doc_shown = doc_right = doc_gold = doc_found = 0
        for etype in TYPES:
            names = {fold(n): n for n in gold.get(etype, [])}
            mine = [(value, forms) for t, value, forms in predicted if t == etype]
            forms_of_type = set().union(*(forms for _, forms in mine)) if mine else set()
            for key, name in names.items():
                hit = key in forms_of_type
                self.found[etype] += hit
                doc_found += hit
                if not hit:
                    self.errors.append(f"{doc_id}: missed {etype} {name!r}")
            for value, forms in mine:
                ok = bool(forms & names.keys())
                self.right[etype] += ok
                doc_right += ok
                if not ok:
                    self.errors.append(f"{doc_id}: wrong {etype} {value!r}")
            self.gold[etype] += len(names)
            self.shown[etype] += len(mine)
            doc_gold += len(names)
            doc_shown += len(mine)
        p = doc_right / doc_shown if doc_shown else 1.0
        r = doc_found / doc_gold if doc_gold else 1.0
        self.doc_f1.append(2 * p * r / (p + r) if p + r else 0.0)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for etype in (*TYPES, "all"):
            kinds = TYPES if etype == "all" else (etype,)
            shown = sum(self.shown[t] for t in kinds)
            right = sum(self.right[t] for t in kinds)
            gold = sum(self.gold[t] for t in kinds)
            found = sum(self.found[t] for t in kinds)
            p = right / shown if shown else 0.0
            r = found / gold if gold else 0.0
            out[etype] = {
                "precision": round(p, 3),
                "recall": round(r, 3),
                "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0,
                "shown": shown,
                "gold": gold,
            }
        out["doc_f1"] = round(sum(self.doc_f1) / len(self.doc_f1), 3) if self.doc_f1 else 0.0
        out["docs"] = len(self.doc_f1)
        return out


def load_gold(split: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if split == "all" or r["split"] == split]


def ingest(rows: list[dict[str, Any]], work: Path) -> dict[str, dict[str, Any]]:
    """The stored record of each text, ingested as JSON Lines like any user's batch."""
    source = work / "gold.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for row in rows:
            record = {"url": f"https://bench.example/{row['id']}", "text": row["text"]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    settings = Settings(index=str(work / "index.db"), workers=1)
    report = pipeline.ingest([str(source)], settings)
    not_indexed = [o for o in report.outcomes if o.outcome.value != "indexed"]
    if not_indexed:
        raise SystemExit(f"not indexed: {[o.as_dict() for o in not_indexed]}")
    backend = SqliteBackend(work / "index.db")
    try:
        docs = {d["url"].rsplit("/", 1)[-1]: d for d in backend.iter_documents()}
    finally:
        backend.close()
    return docs


def ours(doc: dict[str, Any]) -> list[Predicted]:
    return [
        (e["type"], e["name"], frozenset(fold(n) for n in [e["name"], *e["aliases"]]))
        for e in doc["entities"]
        if e["type"] in TYPES
    ]


def raw_spacy(nlp: Any, text: str) -> list[Predicted]:
    seen: dict[tuple[str, str], Predicted] = {}
    for ent in nlp(text).ents:
        etype = RAW_TYPES.get(ent.label_)
        if etype:
            name = " ".join(ent.text.split())
            seen.setdefault((etype, fold(name)), (etype, name, frozenset({fold(name)})))
    return list(seen.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("all", "dev", "heldout"), default="all")
    parser.add_argument("--errors", action="store_true", help="list every miss and wrong value")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()

    splits = ("dev", "heldout", "all") if args.split == "all" else (args.split,)
    rows = load_gold("all" if args.split == "all" else args.split)
    with tempfile.TemporaryDirectory() as tmp:
        docs = ingest(rows, Path(tmp))
    nlp = load_nlp(DEFAULT_MODEL)
    results: dict[str, dict[str, Any]] = {}
    for split in splits:
        mine, raw = Score(), Score()
        for row in rows:
            if split != "all" and row["split"] != split:
                continue
            doc = docs[row["id"]]
            mine.add(row["id"], row, ours(doc))
            raw.add(row["id"], row, raw_spacy(nlp, doc["text"]))
        results[split] = {"article_etl": mine.summary(), "raw_spacy": raw.summary()}
        if args.errors and not args.json:
            print(f"--- {split}: errors of article-etl")
            print("\n".join(mine.errors))
    if args.json:
        print(json.dumps({"model": DEFAULT_MODEL, "results": results}, indent=2))
        return 0
    for split, both in results.items():
        print(f"\n{split}: {both['article_etl']['docs']} texts")
        print(f"{'':14}{'article-etl':>32}   {'raw spaCy':>30}")
        print(f"{'':14}{'P':>8}{'R':>8}{'F1':>8}{'shown':>8}   {'P':>8}{'R':>8}{'F1':>8}")
        for etype in (*TYPES, "all"):
            a, r = both["article_etl"][etype], both["raw_spacy"][etype]
            print(
                f"{etype:14}{a['precision']:8.3f}{a['recall']:8.3f}{a['f1']:8.3f}{a['shown']:8d}"
                f"   {r['precision']:8.3f}{r['recall']:8.3f}{r['f1']:8.3f}"
            )
        print(
            f"{'per-doc F1':14}{both['article_etl']['doc_f1']:24.3f}{'':8}"
            f"   {both['raw_spacy']['doc_f1']:24.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
