"""What became of the inputs of a run: the outcome kinds, why an input was rejected, the outcome
of each input, the run's report, and the one outcome table the logs, the DAG tasks and the
command line print.

Every input of a run ends in exactly one ``InputOutcome``: indexed, unchanged, duplicate, or
rejected with a ``Rejection`` (its reason). Nothing here imports the rest of the package.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """The one final outcome of every input of a run."""

    INDEXED = "indexed"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


def safe_text(text: str) -> str:
    """``text`` as valid Unicode, unchanged when it already is.

    A file name with bytes that are not UTF-8 arrives with surrogate escapes
    (``os.fsdecode(b"bad\\xff.txt")``), and JSON may carry lone surrogates (``"\\ud800"``);
    neither SQLite, JSON output nor a terminal takes them. Such characters are written as
    backslash escapes (``bad\\xff.txt``), so the key stays readable and stable from run to
    run. (A file really named with a backslash escape would share the key; that is all.)"""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # surrogates that are not escaped bytes
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Rejection(str):
    """Why an input is rejected: the one reason carried from where it is found (reading,
    fetching, extraction, the index) to the ledger and the tables.

    A ``str``, so that it is recorded, compared and printed as the text it is; always valid
    Unicode (``safe_text``), since the ledger, JSON and terminals refuse anything else."""

    __slots__ = ()

    def __new__(cls, reason: str) -> Rejection:
        return super().__new__(cls, safe_text(reason))

    @classmethod
    def of(cls, exc: BaseException, context: str = "") -> Rejection:
        """An exception as a reason: ``context: Type: message``, on one line."""
        text = " ".join(str(exc).split())
        described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        return cls(f"{context}: {described}" if context else described)


@dataclass(slots=True)
class InputOutcome:
    """What happened to one input in one run."""

    source: str
    outcome: Outcome
    # A rejected input's ``Rejection``; a duplicate's "same content as ..."; else empty.
    reason: str = ""
    doc_id: str | None = None
    duplicate_of: str | None = None
    title: str = ""

    @classmethod
    def rejected(cls, source: str, reason: str, doc_id: str | None = None) -> InputOutcome:
        return cls(source, Outcome.REJECTED, reason=Rejection(reason), doc_id=doc_id)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome.value
        d["reason"] = str(self.reason)
        return d


ProgressCallback = Callable[[InputOutcome], None]


@dataclass(slots=True)
class RunReport:
    """The outcome of every input of one run, and how the run ended."""

    run_id: str
    status: str  # ok, failed, dry_run
    index: str
    outcomes: list[InputOutcome] = field(default_factory=list)
    elapsed_s: float = 0.0
    message: str = ""
    # Records of web archives that are not articles (request, revisit, non-HTML...), by why:
    # not inputs, so they have no outcome; counted so that nothing read goes unaccounted.
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(o.outcome.value for o in self.outcomes)
        return {o.value: counted.get(o.value, 0) for o in Outcome}

    def summary(self) -> dict[str, Any]:
        """Small and JSON-able (fit for an Airflow XCom): never the articles themselves."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "index": self.index,
            "counts": self.counts,
            "skipped": dict(sorted(self.skipped.items())),
            "elapsed_s": round(self.elapsed_s, 2),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "message": self.message,
            "outcomes": [o.as_dict() for o in self.outcomes],
        }

    def table(self, root: str | None = None) -> str:
        """The outcome table of this run for logs: one row per input, then the counts."""
        footer = [" ".join(f"{k}={v}" for k, v in self.counts.items())]
        if self.skipped:
            footer.append(skipped_line(self.skipped))
        return outcome_table(
            ("input", "outcome", "detail"), input_rows(self.outcomes, root=root), notes=footer
        )


# --- the outcome table ---------------------------------------------------------------------------

OUTCOME_KEYS = tuple(o.value for o in Outcome)
FIRST_COLUMN_WIDTH = 80  # longer inputs are shortened from the left: the file name stays


def outcome_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    total: Sequence[str] | None = None,
    numbers_from: int | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The plain-text outcome table: ``rows`` of an input (``input_rows``) or of a batch's
    counts (``batch_rows``) under ``header``, aligned in columns.

    ``total``: a last row, set off by rules above it and under the header. Columns from
    ``numbers_from`` on are counts (right-aligned). ``notes``: lines under the table."""
    rows = [[_shorten(row[0], FIRST_COLUMN_WIDTH), *row[1:]] for row in rows]
    every = [header, *rows, *([total] if total is not None else [])]
    widths = [max(len(r[c]) for r in every) for c in range(len(header))]
    right = len(header) if numbers_from is None else numbers_from

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i >= right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    if total is None:
        lines = [line(header), *(line(r) for r in rows)]
    else:
        rule = "  ".join("-" * w for w in widths)
        lines = [line(header), rule, *(line(r) for r in rows), rule, line(total)]
    return "\n".join([*lines, *notes])


def input_rows(
    outcomes: Sequence[InputOutcome], *, root: str | None = None, hide_unchanged: bool = False
) -> list[list[str]]:
    """(input, outcome, detail) per input; files under ``root`` shown relative to it."""
    return [
        [shown_source(o.source, root), o.outcome.value, _detail(o)]
        for o in outcomes
        if not (hide_unchanged and o.outcome is Outcome.UNCHANGED)
    ]


def batch_rows(
    summaries: Sequence[Mapping[str, Any]], listed_unchanged: int = 0
) -> list[list[str]]:
    """(batch, run, status, counts...) per batch summary (``RunReport.summary``), and a row
    ``listing`` for the files found unchanged before any batch, when there were any."""
    rows = [
        [
            str(i),
            str(s.get("run_id", "")),
            str(s.get("status", "")),
            *(str(s.get("counts", {}).get(k, 0)) for k in OUTCOME_KEYS),
        ]
        for i, s in enumerate(summaries, start=1)
    ]
    if listed_unchanged:
        listing = [str(listed_unchanged if k == "unchanged" else 0) for k in OUTCOME_KEYS]
        rows.append(["listing", "", "", *listing])
    return rows


BATCH_HEADER = ("batch", "run", "status", *OUTCOME_KEYS)


def shown_source(source: str, root: str | None) -> str:
    """A file under ``root`` relative to it: shorter tables, same meaning."""
    if root and "://" not in source and os.path.isabs(source):
        relative = os.path.relpath(source, root)
        if not relative.startswith(".."):
            return relative
    return source


def _detail(o: InputOutcome) -> str:
    detail = o.reason or (f"same content as {o.duplicate_of}" if o.duplicate_of else "")
    return detail or (o.title[:60] if o.title else "")


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def skipped_line(skipped: Mapping[str, int]) -> str:
    """The web archive records a run skipped, counted by why, on one line."""
    return (
        f"skipped {sum(skipped.values())} web archive record(s) that are not articles: "
        + skipped_text(skipped)
    )


def skipped_text(skipped: Mapping[str, int]) -> str:
    """``{"request record": 3, "revisit record": 1}`` -> "3 request record, 1 revisit record"."""
    return ", ".join(
        f"{n} {why}" for why, n in sorted(skipped.items(), key=lambda i: (-i[1], i[0]))
    )


def log_progress(logger: logging.Logger, every: int = 25) -> ProgressCallback:
    """An ``on_outcome`` callback for logs without a progress bar (Airflow task logs): a line
    every ``every`` inputs with the counts so far."""
    counts: Counter[str] = Counter()

    def on_outcome(outcome: InputOutcome) -> None:
        counts[outcome.outcome.value] += 1
        done = sum(counts.values())
        if done % every == 0:
            logger.info(
                "%d inputs done: %s", done, ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            )

    return on_outcome
