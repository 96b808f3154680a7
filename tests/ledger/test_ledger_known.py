"""What the ledger knows across documents (``Ledger.known``), the same over SQLite and
PostgreSQL: counts of inputs, never of runs; the inputs looked at are excluded; gone inputs
are forgotten."""

from __future__ import annotations

from etl.ledger import Ledger
from etl.ledger.known import Facts

SITE = "sonnenseite.example"
SEG = (SITE, "end", "solarservermagazin")


def test_title_segments_and_people_are_counted_by_input(ledger: Ledger) -> None:
    known = ledger.known
    known.note(
        {
            "a": Facts([SEG, (SITE, "start", "heatpumps")], [("putin", "Vladimir Putin")]),
            "b": Facts([SEG], [("putin", "Vladimir Putin"), ("johnson", "Boris Johnson")]),
            "c": Facts([("other.example", "end", "solarservermagazin")], []),
        }
    )
    found = known.lookup([SEG], ["putin", "johnson"], ["x"])
    assert dict(found.segments) == {SEG: 2}  # the other site counted apart
    assert dict(found.people) == {"Vladimir Putin": 2, "Boris Johnson": 1}
    # The inputs looked at are not counted (their rows are of their earlier version).
    assert dict(known.lookup([SEG], ["putin"], ["a"]).segments) == {SEG: 1}
    # Noted again, an input replaces its facts; gone, it loses them.
    known.note({"a": Facts([SEG], [("putin", "Vladimir Putin")])}, gone=["b"])
    known.note({"a": Facts([SEG], [("putin", "Vladimir Putin")])})
    found = known.lookup([SEG, (SITE, "start", "heatpumps")], ["putin", "johnson"], [])
    assert dict(found.segments) == {SEG: 1}
    assert dict(found.people) == {"Vladimir Putin": 1}
    assert dict(known.lookup([], [], []).people) == {}
