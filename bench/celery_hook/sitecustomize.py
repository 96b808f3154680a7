"""Times the ledger inside the Celery workers' task processes, for ``bench/bench_celery.py``.

Put on ``PYTHONPATH`` with ``ARTICLE_ETL_BENCH_LEDGER_LOG`` naming a file: every ``Ledger``
method call is timed (the outermost one only: ``triage`` calls ``claim`` and ``states``), the
connection made by ``Ledger(...)`` included, and when a ledger is closed one JSON line is
appended to that file: ``{"pid", "ledger_s", "open_s", "calls"}`` (``open_s``: from opening
to closing the ledger). Without the variable nothing is patched.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from typing import Any

LOG = os.environ.get("ARTICLE_ETL_BENCH_LEDGER_LOG", "")


def _timed(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        stats = self.__dict__.setdefault("_bench", {"depth": 0, "s": 0.0, "calls": 0})
        if stats["depth"]:
            return method(self, *args, **kwargs)
        stats["depth"] = 1
        t0 = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            stats["s"] += time.perf_counter() - t0
            stats["calls"] += 1
            stats["depth"] = 0

    return wrapper


def _patch() -> None:
    from etl.ledger.core import Ledger

    for name, value in list(vars(Ledger).items()):
        if callable(value) and not name.startswith("_") and name != "close":
            setattr(Ledger, name, _timed(value))
    init, close = Ledger.__init__, Ledger.close

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        t0 = time.perf_counter()
        try:
            init(self, *args, **kwargs)
        finally:
            opened = time.perf_counter()
            self.__dict__["_bench"] = {"depth": 0, "s": opened - t0, "calls": 1, "t0": t0}

    def close_(self: Any) -> None:
        t0 = time.perf_counter()
        try:
            close(self)
        finally:
            end = time.perf_counter()
            stats = self.__dict__.get("_bench") or {"s": 0.0, "calls": 0, "t0": t0}
            line = {
                "pid": os.getpid(),
                "ledger_s": stats["s"] + (end - t0),
                "open_s": end - stats["t0"],
                "calls": stats["calls"] + 1,
            }
            with open(LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")

    Ledger.__init__ = __init__  # type: ignore[method-assign]
    Ledger.close = close_  # type: ignore[method-assign]


if LOG:
    _patch()
