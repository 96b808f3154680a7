"""The facet postings in memory (numpy arrays of (document, value) per facet field, a mask of
live documents), and the facet counts and histograms computed from them under a mask."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from etl.backends.base import FacetValue
from etl.schema import Field

HISTOGRAM_WIDTH = {"year": 4, "month": 7, "day": 10}

Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]


def parse_ints(text: str | None) -> Ints:
    """A ``group_concat`` of integers as an array."""
    return np.fromstring(text or "", dtype=np.int64, sep=",")


@dataclass
class FieldPostings:
    """One facet field: its values (local ids in dictionary order) and (document, value) pairs."""

    name: str
    is_date: bool
    values: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)
    docs: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    locals: Ints = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _chunks: list[tuple[Ints, Ints]] = field(default_factory=list)
    _bytes: npt.NDArray[np.bytes_] | None = None  # values as bytes (dates: prefix compares)
    _prefixes: dict[int, tuple[list[str], Ints]] = field(default_factory=dict)

    def add_values(self, values: list[str]) -> Ints:
        """New values; their local ids."""
        start = len(self.values)
        self.values.extend(values)
        self.ids.update(zip(values, range(start, start + len(values)), strict=True))
        self._bytes = None
        self._prefixes = {}
        return np.arange(start, start + len(values), dtype=np.int64)

    def add_pairs(self, docs: Ints, locals_: Ints) -> None:
        if len(docs):
            self._chunks.append((docs, locals_))

    def settle(self) -> None:
        if self._chunks:
            self.docs = np.concatenate([self.docs, *(c[0] for c in self._chunks)])
            self.locals = np.concatenate([self.locals, *(c[1] for c in self._chunks)])
            self._chunks = []

    def counts(self, mask: Mask) -> Ints:
        """Documents under ``mask`` per value (local id)."""
        hit = mask[self.docs]
        return np.bincount(self.locals[hit], minlength=len(self.values)).astype(np.int64)

    def docs_with(self, selected: Mask, size: int) -> Mask:
        """The documents holding any selected value."""
        out = np.zeros(size, dtype=np.bool_)
        out[self.docs[selected[self.locals]]] = True
        return out

    def as_bytes(self) -> npt.NDArray[np.bytes_]:
        if self._bytes is None or len(self._bytes) != len(self.values):
            self._bytes = np.array([v.encode("utf-8") for v in self.values] or [b""])[
                : len(self.values)
            ]
        return self._bytes

    def prefix_codes(self, width: int) -> tuple[list[str], Ints]:
        """Sorted distinct ``value[:width]`` and, per value, the index of its prefix."""
        cached = self._prefixes.get(width)
        if cached is None or len(cached[1]) != len(self.values):
            prefixes = [v[:width] for v in self.values]
            labels = sorted(set(prefixes))
            position = {label: i for i, label in enumerate(labels)}
            codes = np.array([position[p] for p in prefixes], dtype=np.int64)
            cached = self._prefixes[width] = (labels, codes)
        return cached


class Postings:
    """The facet postings of one index, for one connection: loaded from the file once, then
    brought up to date from what was added (``n`` beyond the last seen) and removed
    (tombstones beyond the last seen) since."""

    def __init__(self, facets: dict[str, Field]) -> None:
        self.fields = {name: FieldPostings(name, f.is_date) for name, f in facets.items()}
        self._field_list = list(self.fields.values())
        self._field_index = {name: i for i, name in enumerate(self.fields)}
        self.alive: Mask = np.zeros(1024, dtype=np.bool_)
        self.state: tuple[int, int, int] = (0, -1, 0)  # last n, tombstone, value id seen
        # value id (article_values.n) -> index of its field in _field_list (-1: none), local id
        self._value_field: npt.NDArray[np.int16] = np.full(1, -1, dtype=np.int16)
        self._value_local: Ints = np.zeros(1, dtype=np.int64)

    @property
    def size(self) -> int:
        return len(self.alive)

    def _grow(self, n: int) -> None:
        if n >= len(self.alive):
            grown = np.zeros(max(n + 1, 2 * len(self.alive)), dtype=np.bool_)
            grown[: len(self.alive)] = self.alive
            self.alive = grown

    def refresh(self, conn: sqlite3.Connection, state: tuple[int, int, int]) -> bool:
        """Catch up with ``state`` (inside the caller's read transaction); False when this
        reader is too far behind (tombstones it needs were pruned) and must reload."""
        last_n, last_tomb, last_value = self.state
        if last_tomb >= 0 and state[1] > last_tomb:
            oldest = conn.execute("SELECT min(seq) FROM article_tombstones").fetchone()[0]
            if oldest is None or oldest > last_tomb + 1:
                return False
        if state[2] >= len(self._value_field):
            grown = max(state[2] + 1, 2 * len(self._value_field))
            self._value_field = np.concatenate(
                [self._value_field, np.full(grown - len(self._value_field), -1, np.int16)]
            )
            self._value_local = np.concatenate(
                [self._value_local, np.zeros(grown - len(self._value_local), np.int64)]
            )
        for name, value_ns, values in conn.execute(
            "SELECT field, group_concat(n), json_group_array(value) FROM article_values "
            "WHERE n > ? AND n <= ? GROUP BY field",
            (last_value, state[2]),
        ):
            index = self._field_index.get(name)
            if index is not None:
                ns = parse_ints(value_ns)
                self._value_field[ns] = index
                self._value_local[ns] = self._field_list[index].add_values(json.loads(values))
        # Three strings built in C rather than a Python tuple per document.
        ns_text, lengths_text, ids_hex = conn.execute(
            "SELECT group_concat(n), group_concat(length(ids) / 4), group_concat(hex(ids), '') "
            "FROM (SELECT n, ids FROM article_facet_ids WHERE n > ? ORDER BY n)",
            (last_n,),
        ).fetchone()
        if ns_text:
            ns, lengths = parse_ints(ns_text), parse_ints(lengths_text)
            values = np.frombuffer(bytes.fromhex(ids_hex or ""), dtype="<i4").astype(np.int64)
            self._grow(int(ns[-1]))
            self.alive[ns] = True
            self._add_pairs(np.repeat(ns, lengths), values)
        if last_tomb >= 0:  # a first load reads live documents only: no tombstone matters
            dead = conn.execute(
                "SELECT n FROM article_tombstones WHERE seq > ? AND seq <= ?",
                (last_tomb, state[1]),
            ).fetchall()
            if dead:
                ns = np.array([r[0] for r in dead], dtype=np.int64)
                self._grow(int(ns.max()))
                self.alive[ns] = False
        for postings in self._field_list:
            postings.settle()
        self.state = state
        return True

    def _add_pairs(self, docs: Ints, values: Ints) -> None:
        owners = self._value_field[values]
        locals_ = self._value_local[values]
        order = np.argsort(owners, kind="stable")  # by field (a radix sort), documents in order
        bounds = np.searchsorted(
            owners[order], np.arange(len(self._field_list) + 1, dtype=np.int16)
        )
        for index, postings in enumerate(self._field_list):
            mine = order[bounds[index] : bounds[index + 1]]
            postings.add_pairs(docs[mine], locals_[mine])


def facet_counts(postings: Postings, name: str, mask: Mask, size: int) -> list[FacetValue]:
    """The ``size`` most frequent values of a facet under ``mask`` (dates: years in order)."""
    field_postings = postings.fields[name]
    if field_postings.is_date:  # years in order, the first ``size`` of them
        return date_histogram(postings, name, HISTOGRAM_WIDTH["year"], mask)[:size]
    counts = field_postings.counts(mask)
    nonzero = np.flatnonzero(counts)
    if len(nonzero) > size:
        threshold = np.partition(counts[nonzero], len(nonzero) - size)[len(nonzero) - size]
        nonzero = nonzero[counts[nonzero] >= threshold]
    values = field_postings.values
    best = sorted((-int(counts[i]), values[i]) for i in nonzero)[:size]
    return [FacetValue(value, -negative) for negative, value in best]


def date_histogram(postings: Postings, name: str, width: int, mask: Mask) -> list[FacetValue]:
    """Documents under ``mask`` per ``width``-character prefix of a date field's values."""
    field_postings = postings.fields.get(name)
    if field_postings is None or not field_postings.values:
        return []
    labels, codes = field_postings.prefix_codes(width)
    per_value = field_postings.counts(mask)
    per_label = np.bincount(codes, weights=per_value, minlength=len(labels))
    return [FacetValue(labels[i], int(per_label[i])) for i in np.flatnonzero(per_label)]
