"""The inputs of a run: files and folders listed, then read one by one (a file of one input by
the worker process that processes it); URLs, feeds, sitemaps and URL lists discovered and
fetched. Whatever cannot be listed, read or fetched becomes an input with a ``Rejection``, so
that every input ends in an outcome.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from etl.ledger import LEDGER_FAILURES, Ledger
from etl.ledger.file_hashes import FileHashes
from etl.outcomes import Rejection, safe_text
from etl.record import PIPELINE_VERSION, RawInput, WorkerRead
from etl.settings import Settings
from etl.sources import (
    discover,
    file_signature,
    is_single_input_file,
    is_warc_file,
    read_file,
    recorded_hash,
    rejected_from_stat,
)
from etl.warc import archive_state, archives_read, mark_archives_read

LOG = logging.getLogger(__name__)
VANISHED = "vanished: deleted after it was listed"
_T = TypeVar("_T")


def split_inputs(inputs: Sequence[str]) -> tuple[list[str], list[str]]:
    """(URLs, paths) of the inputs given."""
    urls = [i for i in inputs if i.startswith(("http://", "https://"))]
    return urls, [i for i in inputs if i not in urls]


@dataclass(slots=True)
class RunInputs:
    """The inputs of one run: files listed when it starts, read (and URLs fetched) as it goes."""

    settings: Settings
    files: list[Path]
    unlisted: list[RawInput]  # paths that cannot be listed, rejected with why
    urls: Sequence[str] = ()
    feeds: Sequence[str] = ()
    sitemaps: Sequence[str] = ()
    url_lists: Sequence[str] = ()
    # Records of web archives that are not articles, by why (``RunReport.skipped``).
    skipped: Counter[str] = field(default_factory=Counter)

    @classmethod
    def listed(
        cls,
        inputs: Sequence[str],
        settings: Settings,
        *,
        feeds: Sequence[str] = (),
        sitemaps: Sequence[str] = (),
        url_lists: Sequence[str] = (),
    ) -> RunInputs:
        urls, paths = split_inputs(inputs)
        files, unlisted = discover_files(paths, settings)
        return cls(settings, files, unlisted, urls, feeds, sitemaps, url_lists)

    def read(self, ledger: Ledger) -> Iterator[RawInput]:
        """Every input, its key and URL made safe to record (``safe_text``; a ``Rejection``
        is safe already)."""
        sources: list[Iterable[RawInput]] = [
            self.unlisted,
            _read_files(
                self.files, self.settings.max_input_bytes, self.skipped, ledger.file_hashes
            ),
        ]
        if self.urls or self.feeds or self.sitemaps or self.url_lists:
            sources.append(self._url_inputs(ledger))
        for source in sources:
            for raw in source:
                raw.key = safe_text(raw.key)
                raw.url = safe_text(raw.url)
                yield raw

    def note_archives_read(self) -> None:
        """After a run that recorded every input: its web archives need no run while they stay
        as they are (``changed_files``). Failing to note it only costs reading them again."""
        archives = {safe_text(str(f)): f for f in self.files if is_warc_file(f)}
        if not archives:
            return
        try:
            mark_archives_read(self.settings.ledger_location, archives)
        except Exception as exc:
            LOG.warning("web archives read not noted: %s", Rejection.of(exc))

    def _url_inputs(self, ledger: Ledger) -> Iterator[RawInput]:
        from etl.web.discovery import discover_urls
        from etl.web.dispatch import fetch_inputs

        names = [*self.urls, *self.feeds, *self.sitemaps, *self.url_lists]
        try:
            found, rejected = discover_urls(
                self.urls,
                self.settings,
                feeds=self.feeds,
                sitemaps=self.sitemaps,
                list_files=self.url_lists,
            )
        except Exception as exc:  # discover_urls guards each source; this is the last resort
            from etl.web.protocol import shown_url

            LOG.exception("URL discovery failed")
            reason = Rejection.of(exc, "URL discovery failed")
            yield from (RawInput(key=shown_url(n), kind="url", rejection=reason) for n in names)
            return
        yield from rejected
        try:  # fetched in full when unfinished: no conditional request then
            known = ledger.conditional_hashes(found)
        except LEDGER_FAILURES:
            raise
        except Exception as exc:  # only costs the conditional requests
            LOG.warning("no conditional requests this run: %s", Rejection.of(exc))
            known = {}
        pending = dict.fromkeys(found)
        try:
            for raw in fetch_inputs(
                found,
                self.settings,
                cache_location=self.settings.ledger_location,
                known_hashes=known,
            ):
                pending.pop(raw.key, None)
                yield raw
        except LEDGER_FAILURES:
            raise
        except Exception as exc:  # fetch_input never raises; the dispatcher around it might
            LOG.exception("fetching failed")
            reason = Rejection.of(exc, "fetch failed")
            for url in pending:
                yield RawInput(key=url, kind="url", url=url, rejection=reason)


def discover_files(paths: Sequence[str], settings: Settings) -> tuple[list[Path], list[RawInput]]:
    """The files under ``paths``, and the paths that cannot be listed as rejected inputs.

    Each path is listed on its own: one that fails (missing, a name the system refuses, a
    folder that cannot be read) is rejected with the reason and the others are listed."""
    files: dict[Path, None] = {}
    unlisted: list[RawInput] = []
    for p in paths:
        try:
            key = str(Path(p).absolute())
        except Exception:  # no current folder, or a name the system refuses
            key = p
        try:
            if not Path(p).exists():
                reason = Rejection("no such file or directory")
                unlisted.append(RawInput(key=key, kind="file", rejection=reason))
                continue
            found = discover([p], settings.include, settings.exclude)
        except Exception as exc:
            LOG.warning("cannot list %s: %s", safe_text(p), Rejection.of(exc))
            reason = Rejection(f"cannot list: {Rejection.of(exc)}")
            unlisted.append(RawInput(key=key, kind="file", rejection=reason))
            continue
        files.update(dict.fromkeys(found))
    return list(files), unlisted


def changed_files(paths: Sequence[str], settings: Settings) -> list[str]:
    """Files under ``paths`` that are new or whose bytes changed since they were indexed.

    Cheap: no parsing, and a file whose stat signature is the one noted with its hash is not
    even read (``etl.ledger.file_hashes``); the others are read and hashed (a ``.gz`` file
    inflated first, as the ledger hashes it)."""
    files, unlisted = discover_files(paths, settings)
    signatures = {
        key: sig
        for path in files
        if (key := str(path)) == safe_text(key) and (sig := file_signature(path)) is not None
    }
    ledger = Ledger(settings.ledger_location)
    try:
        known = ledger.settled_hashes(PIPELINE_VERSION)
        noted = ledger.file_hashes.lookup(signatures)  # untouched files: hashed without a read
    finally:
        ledger.close()
    changed = [raw.key for raw in unlisted]  # the run records why
    archives = archives_read(settings.ledger_location) if any(map(is_warc_file, files)) else {}
    for path in files:
        key = safe_text(str(path))
        if is_warc_file(path):  # listed until a run has read it to the end as it is now
            if archive_state(path) is None or archives.get(key) != archive_state(path):
                changed.append(str(path))
            continue
        # None: a container file (its records are checked one by one) or a file that cannot be
        # read as one input (the run records why).
        if key not in known or _current_hash(path, key, noted, settings) != known[key]:
            changed.append(str(path))
    return changed


def _current_hash(path: Path, key: str, noted: dict[str, str], settings: Settings) -> str | None:
    return noted.get(key) or recorded_hash(path, settings.max_input_bytes)


READ_WINDOW = 64  # files stat'ed and looked up in the ledger together


def _read_files(
    files: Sequence[Path],
    max_bytes: int,
    skipped: Counter[str] | None = None,
    hashes: FileHashes | None = None,
) -> Iterator[RawInput]:
    """The inputs of each file. A file of one input is not read here but by the worker that
    processes it (``RawInput.worker_read``, ``read_in_worker``): its bytes never go through a
    pipe, and when its stat signature is the one noted with its bytes hash (``hashes``), its
    input carries that hash (``RawInput.known_hash``) and is read only if it needs processing.
    Files of many inputs (JSON Lines, web archives) are read here, and so are files whose
    name is not valid Unicode (their key, ``safe_text``, is not their path) and files rejected
    from their stat alone (empty, too large...: none of their bytes is read)."""
    leave_to_worker = WorkerRead(max_bytes)
    for start in range(0, len(files), READ_WINDOW):
        window = files[start : start + READ_WINDOW]
        signatures = {
            key: sig
            for path in window
            if (key := str(path)) == safe_text(key) and (sig := file_signature(path)) is not None
        }
        no_hashes: dict[str, str] = {}
        known = (
            _guarded(partial(hashes.lookup, signatures), no_hashes)
            if hashes and signatures
            else no_hashes
        )
        for path in window:
            key = str(path)
            if (
                is_single_input_file(path)
                and key == safe_text(key)
                # Rejected without reading a byte: settled here, sparing the worker processes.
                and not rejected_from_stat(path, max_bytes)
            ):
                yield RawInput(
                    key=key, kind="file", known_hash=known.get(key), worker_read=leave_to_worker
                )
            else:
                yield from read_one_file(path, max_bytes, skipped)


def read_in_worker(raw: RawInput, how: WorkerRead) -> tuple[RawInput, str | None]:
    """The input of a file left for its worker to read (``RawInput.worker_read``), read as the
    main process reads files (the same limits, ``.gz`` inflated, the same rejections), and the
    file's stat signature just before the read, to note with its bytes hash
    (``FileHashes.note``; None: not at rest, ``file_signature``)."""
    path = Path(raw.key)
    signature = file_signature(path)
    read = next(read_one_file(path, how.max_bytes))  # a file of one input yields one
    read.worker_read = how
    return read, signature


def read_one_file(
    path: Path, max_bytes: int, skipped: Counter[str] | None = None
) -> Iterator[RawInput]:
    """The inputs of one file; a file that fails to read in any way is rejected alone, and
    a file that was listed but is gone by the time it is read is rejected as vanished."""
    try:
        for raw in read_file(path, max_bytes, skipped):
            if raw.rejection is not None and raw.kind == "file" and _vanished(path):
                raw.rejection = Rejection(VANISHED)
            yield raw
    except Exception as exc:
        LOG.warning("cannot read %s: %s", safe_text(str(path)), Rejection.of(exc))
        reason = VANISHED if _vanished(path) else f"cannot read file: {Rejection.of(exc)}"
        yield RawInput(key=str(path), kind="file", rejection=Rejection(reason))


def _guarded(call: Callable[[], _T], fallback: _T) -> _T:
    """The file hashes only spare reads: when they fail for a reason other than the ledger's
    database, files are read as if nothing were noted."""
    try:
        return call()
    except LEDGER_FAILURES:
        raise
    except Exception as exc:
        LOG.warning("file hashes not used: %s", Rejection.of(exc))
        return fallback


def _vanished(path: Path) -> bool:
    try:
        return not os.path.lexists(path)
    except Exception:
        return False
