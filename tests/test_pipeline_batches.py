"""How inputs go to the worker processes: batches of eight, but the end of a run (all of a small
run) shared evenly, so that no worker is left with a whole batch more than the others."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator

import pytest

from etl.process import BALANCED_ROUNDS, ProcessOptions, balanced_batches, process_stream
from etl.record import RawInput
from etl.settings import Settings


def inputs(n: int) -> list[RawInput]:
    return [RawInput(key=f"/in/{i:04d}.txt", kind="file", data=b"too short") for i in range(n)]


def busiest_minus_idlest(sizes: list[int], workers: int) -> int:
    """Inputs done by the busiest worker minus the idlest, each batch going to the worker that
    is free first (as the pool hands them out), every input taking as long."""
    done = [0] * workers
    for size in sizes:
        done[done.index(min(done))] += size
    return max(done) - min(done)


def test_a_small_run_is_shared_evenly_between_two_workers() -> None:
    raws = inputs(26)
    batches = list(balanced_batches(raws, 8, 2))
    assert [len(b) for b in batches] == [7, 7, 6, 6]  # 13 inputs each, not 16 and 10
    assert [raw for batch in batches for raw in batch] == raws  # in order, each once


@pytest.mark.parametrize("workers", [2, 3, 4, 8])
def test_any_run_ends_with_the_workers_within_two_inputs_of_each_other(workers: int) -> None:
    for n in range(1, 400):
        raws = inputs(n)
        batches = list(balanced_batches(raws, 8, workers))
        sizes = [len(b) for b in batches]
        assert [raw for batch in batches for raw in batch] == raws, n
        assert all(1 <= size <= 8 for size in sizes), (n, sizes)
        assert busiest_minus_idlest(sizes, workers) <= 2, (n, sizes)


def test_a_large_run_keeps_batches_of_eight_until_its_end() -> None:
    sizes = [len(b) for b in balanced_batches(inputs(1000), 8, 2)]
    tail = (BALANCED_ROUNDS + 1) * 2
    assert set(sizes[:-tail]) == {8}
    assert len(sizes) - tail >= (1000 - tail * 8) // 8


def test_worker_processes_get_the_balanced_batches(settings: Settings) -> None:
    options = ProcessOptions.of(settings)
    raws = inputs(26)
    batches = list(process_stream(raws, options, workers=2))
    assert [len(b) for b in batches] == [7, 7, 6, 6]
    assert [p.raw.key for batch in batches for p in batch] == [raw.key for raw in raws]
    assert all(str(p.rejection).startswith("not an article") for b in batches for p in b)


def test_workers_start_only_when_there_is_work(settings: Settings) -> None:
    """A run with nothing to process starts no worker process (and loads no model); one with
    work starts them as its first input arrives, before its first batch is full."""
    options = ProcessOptions.of(settings)
    assert list(process_stream(iter(()), options, workers=2)) == []
    assert multiprocessing.active_children() == []

    started: list[int] = []

    def one_then_watch() -> Iterator[RawInput]:
        yield from inputs(1)
        # Still listing: the first batch is not full, yet the workers are starting.
        started.append(len(multiprocessing.active_children()))
        yield from inputs(2)[1:]

    batches = list(process_stream(one_then_watch(), options, workers=2))
    assert started == [2]
    assert sum(len(b) for b in batches) == 2
