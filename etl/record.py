"""The typed records that flow through every stage (outcomes: ``etl.outcomes``).

read -> ``RawInput`` (the bytes of one input and what is known of it); extract -> ``Article``
with text and metadata; enrich -> a new record with entities and dates (records are frozen:
each stage returns a new one); index -> ``Article.to_document()``, whose keys are exactly the
fields of ``mappings/fields.json``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from functools import cache
from typing import Any

from etl.outcomes import Rejection

PIPELINE_VERSION = "1"


class Warning_(StrEnum):
    """Extraction warnings: weak extractions stay visible and countable (facet ``warning``)."""

    NO_TITLE = "no_title"
    TITLE_DERIVED = "title_derived"
    # No publication date found: ``published`` stays empty (the file's time is only ever
    # ``file_modified``, never presented as the publication date).
    NO_DATE = "no_date"
    # A publication date given with the input (JSON Lines, front matter) that is not a date:
    # ignored, never indexed as it is.
    INVALID_PUBLISHED = "invalid_published"
    # Another field given with the input (title, author, language, url) that is malformed.
    INVALID_METADATA = "invalid_metadata"
    SHORT_TEXT = "short_text"
    NO_AUTHOR = "no_author"
    NO_LANGUAGE = "no_language"
    LANGUAGE_NOT_SUPPORTED_BY_NER = "language_not_supported_by_ner"
    ENCODING_GUESSED = "encoding_guessed"
    # The page declares another language than its text is written in (<html lang>, meta).
    LANGUAGE_MISMATCH = "language_mismatch"
    # Longer than the spaCy model takes at once (nlp.max_length): entities found part by part.
    NER_CHUNKED = "ner_chunked"


# Records are frozen and their collections typed read-only (``Sequence``): a stage that adds to a
# record returns a new one (``dataclasses.replace``), so its signature says what it writes. The
# collections stay lists (as the stored documents have them), never changed in place.


@dataclass(frozen=True, slots=True)
class Entity:
    """One named thing of a document: its canonical name, type, mention count and other forms."""

    name: str
    type: str  # person, organization, location, group, event, product, work, law
    count: int
    aliases: Sequence[str] = field(default_factory=list)
    country: str | None = None  # places: ISO 3166-1 alpha-2 code of the country they are in


@dataclass(frozen=True, slots=True)
class DateMention:
    """One date mention of a text with its TIMEX3 value (values and resolution: ``etl.dates``)."""

    text: str  # the mention as written, e.g. "this fall"
    value: str | None  # TIMEX3 value, see the docstring of etl.dates
    granularity: str  # one of etl.dates.timex.GRANULARITIES
    start: str | None  # ISO date of the first day the mention covers (calendar periods)
    end: str | None  # ISO date of the last day it covers
    relative: bool  # True when resolved against the reference date
    resolved: bool  # False when it could not be resolved; value/start/end are then None
    note: str = ""  # why unresolved, or a caveat about a resolved value
    span: tuple[int, int] | None = None  # [start, end) character offsets in the article text


@dataclass(frozen=True, slots=True)
class Article:
    """One article as it flows from extraction through enrichment to the index (one document)."""

    id: str
    source: str
    source_kind: str  # file, jsonl, url, warc
    raw_hash: str
    text: str
    content_hash: str
    title: str = ""
    title_derived: bool = False
    title_original: str = ""  # the title as the page gave it, before the site name was removed
    description: str = ""
    url: str = ""
    canonical_url: str = ""
    site: str = ""
    host: str = ""
    author: Sequence[str] = field(default_factory=list)
    category: Sequence[str] = field(default_factory=list)
    tag: Sequence[str] = field(default_factory=list)
    language: str = ""  # ISO 639-1, detected from the text
    language_declared: str = ""  # what the page said (<html lang>, meta), as written
    # ISO 8601: a day, a month ("2015-01") or a year, or a timestamp with its UTC offset
    # ("2024-11-07T09:42:00+01:00", the day being the day where it was published).
    published: str | None = None
    published_source: str | None = None  # input, structured_data, meta, url, text
    published_confidence: str | None = None  # high, medium, low (etl.dates.pubdate)
    file_modified: str | None = None  # the input file's modification time; not a publication date
    fetched_at: str | None = None  # when the page was fetched (a web archive record's WARC-Date)
    entities: Sequence[Entity] = field(default_factory=list)
    date_mentions: Sequence[DateMention] = field(default_factory=list)
    warning: Sequence[str] = field(default_factory=list)
    model: str = ""
    pipeline_version: str = PIPELINE_VERSION
    processed_at: str = ""
    # The story it belongs to (etl.clusters): the id of the story's first document; a document
    # without one is a story of its own.
    story_cluster: str = ""

    @property
    def word_count(self) -> int:
        """Words, and for scripts written without spaces (Chinese, Japanese, Thai...) their
        characters as word-equivalents (``etl.language.word_equivalents``)."""
        from etl.language import word_equivalents

        return word_equivalents(self.text)

    @property
    def reading_time_minutes(self) -> float:
        return reading_minutes(self.word_count)

    def with_warnings(self, *warnings: Warning_) -> Article:
        """This record with ``warnings`` added after its own, each warning once."""
        added = [w.value for w in dict.fromkeys(warnings) if w.value not in self.warning]
        return replace(self, warning=[*self.warning, *added]) if added else self

    def entity_names(self, entity_type: str) -> list[str]:
        return [e.name for e in self.entities if e.type == entity_type]

    def to_document(self) -> dict[str, Any]:
        """The indexed document: keys are exactly the fields of mappings/fields.json."""
        doc: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "title_derived": self.title_derived,
            "title_original": self.title_original or None,
            "description": self.description,
            "text": self.text,
            "source": self.source,
            "source_kind": self.source_kind,
            "url": self.url,
            "canonical_url": self.canonical_url,
            "site": self.site,
            "host": self.host,
            "author": list(self.author),
            "category": list(self.category),
            "tag": list(self.tag),
            "language": self.language,
            "language_declared": self.language_declared,
            "published": self.published or None,
            "published_source": self.published_source,
            "published_confidence": self.published_confidence,
            "entities": [
                {
                    "name": e.name,
                    "type": e.type,
                    "count": e.count,
                    "aliases": list(e.aliases),
                    "country": e.country,
                }
                for e in self.entities
            ],
            # Every country a place of the text lies in (ISO codes), most mentioned first.
            "country": list(dict.fromkeys(e.country for e in self.entities if e.country)),
            "date_mentions": [_mention_fields(m) for m in self.date_mentions],
            "mentioned_year": sorted(
                {year for m in self.date_mentions if m.resolved and (year := _year_of(m.value))}
            ),
            "warning": list(self.warning),
            "word_count": (words := self.word_count),
            "reading_time_minutes": reading_minutes(words),
            "content_hash": self.content_hash,
            "raw_hash": self.raw_hash,
            "pipeline_version": self.pipeline_version,
            "model": self.model,
            # A date field is a date or absent: "" is no date (Elasticsearch refuses it).
            "file_modified": self.file_modified or None,
            "fetched_at": self.fetched_at or None,
            "processed_at": self.processed_at or None,
            "story_cluster": self.story_cluster or self.id,
        }
        entity_fields, keyword_fields = _document_layout()
        for field_name in entity_fields.values():
            doc[field_name] = []
        for e in self.entities:
            if e.type in entity_fields:
                doc[entity_fields[e.type]].append(e.name)
        for name in keyword_fields:
            # An empty keyword is no value: not a facet value "" (Elasticsearch would count it).
            if doc[name] == "":
                doc[name] = None
        return doc

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Article:
        """Rebuild the record from an indexed document (``show``, reindexing)."""
        return cls(
            id=doc["id"],
            source=doc["source"],
            source_kind=doc["source_kind"],
            raw_hash=doc["raw_hash"],
            text=doc["text"],
            content_hash=doc["content_hash"],
            title=doc.get("title") or "",
            title_derived=bool(doc.get("title_derived", False)),
            title_original=doc.get("title_original") or "",
            description=doc.get("description") or "",
            url=doc.get("url") or "",
            canonical_url=doc.get("canonical_url") or "",
            site=doc.get("site") or "",
            host=doc.get("host") or "",
            author=list(doc.get("author", [])),
            category=list(doc.get("category", [])),
            tag=list(doc.get("tag", [])),
            language=doc.get("language") or "",
            language_declared=doc.get("language_declared") or "",
            published=doc.get("published"),
            published_source=doc.get("published_source"),
            published_confidence=doc.get("published_confidence"),
            file_modified=doc.get("file_modified"),
            fetched_at=doc.get("fetched_at"),
            entities=[Entity(**e) for e in doc.get("entities", [])],
            date_mentions=[_mention_from(m) for m in doc.get("date_mentions", [])],
            warning=list(doc.get("warning", [])),
            model=doc.get("model") or "",
            pipeline_version=doc.get("pipeline_version", PIPELINE_VERSION),
            processed_at=doc.get("processed_at") or "",
            story_cluster=doc.get("story_cluster") or "",
        )


def reading_minutes(words: int) -> float:
    # 230 words a minute: the usual adult silent-reading rate for non-fiction.
    return round(words / 230, 1)


@cache
def _document_layout() -> tuple[dict[str, str], tuple[str, ...]]:
    """From mappings/fields.json, once: entity type -> facet field; the keyword fields."""
    from etl.schema import load_schema

    schema = load_schema()
    keywords = tuple(n for n, f in schema.fields.items() if f.type == "keyword")
    return schema.entity_fields, keywords


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _fields_of(obj: Any) -> dict[str, Any]:
    """A flat dataclass as a dict, without ``asdict``'s deep copy (a hot path)."""
    return {name: getattr(obj, name) for name in _field_names(type(obj))}


def _mention_fields(m: DateMention) -> dict[str, Any]:
    fields_ = _fields_of(m)
    fields_["span"] = list(m.span) if m.span is not None else None  # a JSON array [start, end]
    return fields_


def _mention_from(doc: dict[str, Any]) -> DateMention:
    span = doc.get("span")
    return DateMention(**{**doc, "span": (int(span[0]), int(span[1])) if span else None})


def _year_of(value: str | None) -> int | None:
    """The year a normalised date value starts in ("2025-FA" -> 2025; "199X" -> None)."""
    match = re.match(r"^(\d{4})", value or "")
    return int(match.group(1)) if match else None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_fingerprint(text: str) -> str:
    """Hash of the text with whitespace and case folded: the same article, the same hash."""
    return sha256_hex(" ".join(text.split()).casefold().encode("utf-8"))


def make_id(canonical_url: str, content_hash: str) -> str:
    """Stable id: from the canonical URL when known, else from the content."""
    basis = f"url:{canonical_url}" if canonical_url else f"content:{content_hash}"
    return sha256_hex(basis.encode("utf-8"))[:20]


@dataclass(frozen=True, slots=True)
class WorkerRead:
    """How the worker that processes a file of one input reads it, the main process having
    read nothing of it (``etl.inputs.read_in_worker``): its bytes never go through a pipe."""

    max_bytes: int  # the limit ``etl.sources.read_file`` applies
    # The bytes hash with which the ledger takes the input as settled (unchanged, or rejected
    # again): a worker reading such bytes hands the input back without extracting it.
    unchanged_hash: str | None = None


@dataclass(slots=True)
class RawInput:
    """One input: a file, one JSON Lines record, or one fetched URL."""

    key: str  # what the ledger knows it by: absolute path, path#line, or URL
    kind: str  # file, jsonl, url
    data: bytes = b""
    media_type: str = ""  # html, text, markdown (empty: guess from key and content)
    url: str = ""  # the page's URL when known (fetched page, JSON Lines record)
    modified: str | None = None  # file modification time, ISO 8601
    rejection: Rejection | None = None  # set when the input cannot be read; it is then rejected
    not_modified: bool = False  # fetch: the server answered 304; the input is unchanged
    extra: dict[str, str] = field(default_factory=dict)
    # The bytes hash of an input whose bytes are not here: a file not read because its stat
    # signature is the one noted with this hash (``etl.ledger.file_hashes``; its worker reads
    # it if it needs processing), or an input whose worker dropped its bytes once done.
    known_hash: str | None = None
    # A file left for its worker to read (None: its bytes are here, or it is not such a file).
    worker_read: WorkerRead | None = None

    @property
    def unread(self) -> bool:
        return self.known_hash is not None and not self.data

    @property
    def hash_unknown(self) -> bool:
        """A file neither read nor known by its hash yet: only its worker can tell whether
        it changed."""
        return self.worker_read is not None and not self.data and self.known_hash is None

    @property
    def raw_hash(self) -> str:
        if self.unread:
            return self.known_hash or ""
        # Metadata given with a JSON Lines record is part of what was read: a record whose
        # "published" changed is not unchanged.
        metadata = self.extra.get("metadata")
        if metadata:
            return sha256_hex(self.data + b"\0" + metadata.encode("utf-8"))
        return sha256_hex(self.data)
