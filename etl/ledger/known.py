"""What the index knows across documents, kept in the ledger's database for the next batches
and runs (tables of schema version 4, ``etl.ledger.schema``): the end segments of the titles
of each site's pages (``etl.titles``), and the full names of the people each document names
(``etl.people``).

One row per input and fact; an input processed again has its rows replaced, one that no longer
holds a document (rejected, a duplicate) loses them. The counts are of the inputs that carry a
fact, the inputs being looked at excluded (their rows are of their earlier version). A lookup
is one query per kind of fact for the whole batch; noting a batch is one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from etl.ledger.db import Database

Segment = tuple[str, str, str]  # (site, position, segment key)


@dataclass(frozen=True, slots=True)
class Facts:
    """What one document adds: its title's end segments, the full names it spells."""

    segments: Sequence[Segment] = field(default_factory=list)
    people: Sequence[tuple[str, str]] = field(default_factory=list)  # (surname key, full name)


@dataclass(frozen=True, slots=True)
class Known:
    """What the other documents of the index carry."""

    segments: Mapping[Segment, int] = field(default_factory=dict)  # -> pages
    people: Mapping[str, int] = field(default_factory=dict)  # full name -> documents


def _marks(n: int) -> str:
    return ",".join("?" * n)


class KnownFacts:
    """The facts of the ledger's database ``db`` (the ledger's own connection)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def lookup(
        self, segments: Collection[Segment], surnames: Collection[str], sources: Collection[str]
    ) -> Known:
        """How many inputs other than ``sources`` carry each of ``segments``, and the full
        names of the people known by one of ``surnames`` with the documents naming them."""
        excluded = sorted(set(sources)) or [""]
        counts: dict[Segment, int] = {}
        wanted = set(segments)
        if wanted:
            sites = sorted({s[0] for s in wanted})
            keys = sorted({s[2] for s in wanted})
            rows = self._db.execute(
                "SELECT site, position, segment, COUNT(*) AS pages FROM ledger_title_segments "
                f"WHERE site IN ({_marks(len(sites))}) AND segment IN ({_marks(len(keys))}) "
                f"AND source NOT IN ({_marks(len(excluded))}) GROUP BY site, position, segment",
                [*sites, *keys, *excluded],
            ).fetchall()
            for r in rows:
                key = (r["site"], r["position"], r["segment"])
                if key in wanted:
                    counts[key] = int(r["pages"])
        people: dict[str, int] = {}
        names = sorted(set(surnames))
        if names:
            rows = self._db.execute(
                "SELECT name, COUNT(*) AS documents FROM ledger_people "
                f"WHERE surname IN ({_marks(len(names))}) "
                f"AND source NOT IN ({_marks(len(excluded))}) GROUP BY name",
                [*names, *excluded],
            ).fetchall()
            people = {r["name"]: int(r["documents"]) for r in rows}
        return Known(counts, people)

    def note(self, facts: Mapping[str, Facts], gone: Iterable[str] = ()) -> None:
        """The facts of these inputs (source -> ``Facts``) replace their earlier ones; the
        inputs ``gone`` (no longer holding a document) lose theirs. One transaction."""
        sources = sorted({*facts, *gone})
        if not sources:
            return
        segment_rows = sorted({(*seg, source) for source, f in facts.items() for seg in f.segments})
        people_rows = sorted(
            {(surname, name, source) for source, f in facts.items() for surname, name in f.people}
        )
        with self._db.transaction():
            self._db.executemany(
                "DELETE FROM ledger_title_segments WHERE source = ?", [(s,) for s in sources]
            )
            self._db.executemany(
                "DELETE FROM ledger_people WHERE source = ?", [(s,) for s in sources]
            )
            if segment_rows:
                self._db.executemany(
                    "INSERT INTO ledger_title_segments(site, position, segment, source) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    segment_rows,
                )
            if people_rows:
                self._db.executemany(
                    "INSERT INTO ledger_people(surname, name, source) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    people_rows,
                )
