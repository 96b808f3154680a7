"""The embedded index's search time budget: a SQLite progress handler that interrupts a search
running past ``search_timeout`` seconds (``ARTICLE_ETL_SEARCH_TIMEOUT``), which then fails with
``SearchTimeout``. (Elasticsearch gets the same budget as the ``timeout`` of its search body.)"""

from __future__ import annotations

import functools
import math
import sqlite3
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from etl.backends.base import SearchRequest, SearchResult, SearchTimeout

# SQLite virtual machine instructions between two looks at the clock.
PROGRESS_STEPS = 1000


class _Budgeted(Protocol):
    search_timeout: float

    @property
    def connection(self) -> sqlite3.Connection: ...

    def forget_postings(self) -> None: ...


B = TypeVar("B", bound=_Budgeted)
# Backends inside a budgeted search: a search made of searches (one hit per story) has one
# budget for the whole.
_running: weakref.WeakSet[Any] = weakref.WeakSet()


def within_time_budget(
    search: Callable[[B, SearchRequest], SearchResult],
) -> Callable[[B, SearchRequest], SearchResult]:
    """Decorates a backend's ``search``: every SQLite statement it runs is interrupted once
    ``self.search_timeout`` seconds have passed since the search began."""

    @functools.wraps(search)
    def budgeted(self: B, request: SearchRequest) -> SearchResult:
        seconds = self.search_timeout
        if not math.isfinite(seconds) or self in _running:
            return search(self, request)  # no budget, or inside a search that has one
        deadline = time.monotonic() + seconds
        expired = False

        def progress() -> int:
            nonlocal expired
            expired = expired or time.monotonic() > deadline
            return int(expired)  # non-zero: SQLite stops the statement ("interrupted")

        self.connection.set_progress_handler(progress, PROGRESS_STEPS)
        _running.add(self)
        try:
            return search(self, request)
        except (sqlite3.Error, ValueError):  # the backend may word an interruption as a bad query
            if expired:
                # What was being read when the clock ran out may be half read: read it afresh.
                self.forget_postings()
                raise SearchTimeout(seconds) from None
            raise
        finally:
            _running.discard(self)
            self.connection.set_progress_handler(None, 0)

    return budgeted
