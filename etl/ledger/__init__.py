"""The ledger: every input's recorded outcome, in a SQLite file or a PostgreSQL database.

``etl.ledger.core``: the ``Ledger``; ``etl.ledger.state``: what it tells of inputs;
``etl.ledger.db``: the two databases behind one interface; ``etl.ledger.schema``: its tables.
"""

from etl.ledger.core import Ledger
from etl.ledger.db import LEDGER_FAILURES, open_database
from etl.ledger.state import (
    DONE,
    PendingDoc,
    SettledIf,
    SourceState,
    Triage,
    now_iso,
    settled_outcome,
)

__all__ = [
    "DONE",
    "LEDGER_FAILURES",
    "Ledger",
    "PendingDoc",
    "SettledIf",
    "SourceState",
    "Triage",
    "now_iso",
    "open_database",
    "settled_outcome",
]
