"""What the ledger tells of inputs: a source's state, a window's triage, pending documents."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from etl.outcomes import InputOutcome, Outcome
from etl.record import PIPELINE_VERSION

if TYPE_CHECKING:
    from etl.record import RawInput

# Outcomes whose input needs no work while its bytes stay the same.
DONE = frozenset({Outcome.INDEXED.value, Outcome.DUPLICATE.value})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the ledger holds of one input: its last outcome, hashes and document."""

    source: str
    raw_hash: str | None
    content_hash: str | None
    doc_id: str | None
    outcome: str
    reason: str
    pipeline: str
    # A run that is no longer running (killed, failed) left documents pending for it: whatever
    # its bytes, it is processed again, so that the index and the ledger converge.
    unfinished: bool = False


@dataclass(frozen=True, slots=True)
class SettledIf:
    """The outcome of an input whose bytes are not read yet, should they hash to ``raw_hash``
    (``settled_outcome`` on those bytes), and the hash to record it with."""

    raw_hash: str
    outcome: InputOutcome


@dataclass(slots=True)
class Triage:
    """A window of inputs sorted by the ledger: those to process, those settled without
    processing (with the bytes hash to record them with), and those another running run has
    claimed (``elsewhere``: that run records them, this one leaves them alone).

    ``settled_if``: of the inputs to process that are files left for their worker to read
    (``RawInput.worker_read``), those the worker may find settled after all, by source."""

    to_process: list[RawInput] = field(default_factory=list)
    settled: list[InputOutcome] = field(default_factory=list)
    hashes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    elsewhere: list[str] = field(default_factory=list)
    settled_if: dict[str, SettledIf] = field(default_factory=dict)


def settled_outcome(
    raw: RawInput, state: SourceState | None, *, reprocess: bool
) -> InputOutcome | None:
    """The outcome of an input that needs no parsing: unreadable (rejected with the reason);
    the same bytes as last time and indexed or a duplicate then (``unchanged``); the same bytes
    that this pipeline version rejected (``rejected`` again, same reason). None: process it."""
    if raw.rejection:
        return InputOutcome.rejected(raw.key, raw.rejection)
    if reprocess or state is None or state.unfinished or raw.hash_unknown:
        return None
    same_bytes = raw.not_modified or state.raw_hash == raw.raw_hash
    if not same_bytes:
        return None
    if state.outcome in DONE:
        return InputOutcome(raw.key, Outcome.UNCHANGED, doc_id=state.doc_id)
    if state.outcome == Outcome.REJECTED.value and state.pipeline == PIPELINE_VERSION:
        return InputOutcome.rejected(raw.key, state.reason)
    return None


def settled_if_read(
    raw: RawInput, state: SourceState | None, *, reprocess: bool
) -> SettledIf | None:
    """For a file left for its worker to read: the outcome ``settled_outcome`` gives it if its
    bytes turn out to be those the ledger holds, or None when it is processed whatever they
    are."""
    if raw.worker_read is None or raw.data or state is None or not state.raw_hash:
        return None
    as_recorded = replace(raw, known_hash=state.raw_hash)
    outcome = settled_outcome(as_recorded, state, reprocess=reprocess)
    return None if outcome is None else SettledIf(state.raw_hash, outcome)


@dataclass(frozen=True, slots=True)
class PendingDoc:
    """A document a run was about to write (``write``) or remove (``drop``) for a source."""

    entry: int  # the row, to clear exactly this entry
    run_id: str
    source: str
    doc_id: str
    kind: str
