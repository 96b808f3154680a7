"""The one field definition of an article document (``mappings/fields.json``).

Both index backends take their fields from here: the embedded index builds its FTS columns,
facet table and filters from it, and the Elasticsearch index template is generated from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

FIELD_TYPES = {"text", "keyword", "date", "integer", "float", "boolean", "nested"}


def mappings_dir() -> Path:
    """``mappings/`` in a source checkout, or its copy inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "mappings", here / "_mappings"):
        if (candidate / "fields.json").is_file():
            return candidate
    raise FileNotFoundError(f"mappings/fields.json not found next to {here}")


@dataclass(frozen=True, slots=True)
class Field:
    """One field of the index schema (mappings/fields.json): its name, type and use."""

    name: str
    type: str
    facet: bool = False
    multi: bool = False
    search_weight: float = 0.0
    highlight: bool = False
    label: str = ""
    entity: str = ""
    doc: str = ""
    properties: dict[str, Field] = field(default_factory=dict)

    @property
    def is_date(self) -> bool:
        return self.type == "date"


def _parse(name: str, spec: dict[str, Any]) -> Field:
    if spec["type"] not in FIELD_TYPES:
        raise ValueError(f"field {name!r}: unknown type {spec['type']!r}")
    return Field(
        name=name,
        type=spec["type"],
        facet=bool(spec.get("facet", False)),
        multi=bool(spec.get("multi", False)),
        search_weight=float(spec.get("search_weight", 0.0)),
        highlight=bool(spec.get("highlight", False)),
        label=str(spec.get("label", "")) or name.replace("_", " ").capitalize(),
        entity=str(spec.get("entity", "")),
        doc=str(spec.get("doc", "")),
        properties={k: _parse(k, v) for k, v in spec.get("properties", {}).items()},
    )


@dataclass(frozen=True, slots=True)
class Schema:
    """The index schema read from mappings/: the fields both backends index and search."""

    version: int
    fields: dict[str, Field]

    @property
    def text_fields(self) -> list[Field]:
        """Full-text fields, in definition order, with their search weights."""
        return [f for f in self.fields.values() if f.type == "text"]

    @property
    def facets(self) -> dict[str, Field]:
        """Fields offered as facets and filters (keyword or date)."""
        return {n: f for n, f in self.fields.items() if f.facet}

    @property
    def entity_fields(self) -> dict[str, str]:
        """Entity type -> facet field name."""
        return {f.entity: n for n, f in self.fields.items() if f.entity}

    @property
    def keyword_facets(self) -> list[str]:
        return [n for n, f in self.facets.items() if f.type == "keyword"]


@cache
def load_schema() -> Schema:
    raw = json.loads((mappings_dir() / "fields.json").read_text(encoding="utf-8"))
    fields = {name: _parse(name, spec) for name, spec in raw["fields"].items()}
    return Schema(version=int(raw["version"]), fields=fields)
