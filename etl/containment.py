"""Keeping a failure as small as it is: a batch step that fails for one input costs that input,
and a side step (a note, a cleanup) that fails costs a warning, never the run.

``fatal`` names the failures that are about the run itself (the ledger's database, the index):
they always propagate, so that the run fails and its inputs stay pending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from etl.outcomes import Rejection

LOG = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")
Fatal = tuple[type[BaseException], ...]


def one_by_one_on_failure(
    call: Callable[[Sequence[Item]], Result],
    items: Sequence[Item],
    *,
    fatal: Fatal,
    what: str,
) -> Iterator[tuple[Sequence[Item], Result | Exception]]:
    """``call(items)`` once; when that fails (other than ``fatal``), ``call([item])`` for each
    item, so that only the items that fail alone fail. Yields (items, result or exception)."""
    try:
        yield items, call(items)
        return
    except fatal:
        raise
    except Exception as exc:
        if len(items) == 1:
            yield items, exc
            return
        LOG.warning("%s failed for a batch, one by one: %s", what, Rejection.of(exc))
    for item in items:
        try:
            yield [item], call([item])
        except fatal:
            raise
        except Exception as exc:
            yield [item], exc


@contextmanager
def warn_on_failure(what: str, *, fatal: Fatal) -> Iterator[None]:
    """A step whose failure (other than ``fatal``) is logged as ``what`` and costs nothing more."""
    try:
        yield
    except fatal:
        raise
    except Exception as exc:
        LOG.warning("%s: %s", what, Rejection.of(exc))
