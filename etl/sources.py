"""Inputs: finding article files and reading them into ``RawInput``s.

A ``RawInput`` is one input with its bytes (or the reason it cannot be read). Files come from
here; URLs come from ``etl.web``. The pipeline treats both alike.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import json
import os
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from etl.outcomes import Rejection
from etl.record import RawInput

# Suffixes the pipeline reads. Anything else found while walking a directory is skipped
# (not an input); a file named explicitly on the command line is read whatever its suffix.
ARTICLE_SUFFIXES = (
    ".html",
    ".htm",
    ".xhtml",
    ".html.gz",
    ".htm.gz",
    ".txt",
    ".md",
    ".markdown",
    ".jsonl",
    ".ndjson",
    ".warc",  # web archives: one input per HTML response record (etl/warc.py)
    ".warc.gz",
)
WARC_SUFFIXES = (".warc", ".warc.gz")
MAX_GUNZIPPED_FACTOR = 50  # a .gz that inflates more than this is refused (gzip bomb)
_EMPTY_FILE = Rejection("empty file")


def _matches(path: Path, patterns: Sequence[str]) -> bool:
    text = path.as_posix()
    return any(fnmatch.fnmatch(text, p) or fnmatch.fnmatch(path.name, p) for p in patterns)


def is_article_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(ARTICLE_SUFFIXES)


def discover(
    paths: Iterable[str | Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> list[Path]:
    """Files named, and article files found recursively in directories, sorted, without repeats.

    ``include``/``exclude`` are glob patterns matched against the path or the file name."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            candidates: Iterable[Path] = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and is_article_file(p)
            )
        else:
            candidates = [path]
        for p in candidates:
            if include and not _matches(p, include):
                continue
            if exclude and _matches(p, exclude):
                continue
            found[p.resolve() if p.exists() else p.absolute()] = None
    return list(found)


def _iso_mtime(stat: os.stat_result) -> str:
    return datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat(timespec="seconds")


def media_type_for(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    if lower.endswith((".txt", ".text")):
        return "text"
    if lower.endswith((".md", ".markdown")):
        return "markdown"
    if lower.endswith((".html", ".htm", ".xhtml")):
        return "html"
    return ""


def read_file(
    path: Path, max_bytes: int, skipped: Counter[str] | None = None
) -> Iterator[RawInput]:
    """The inputs one file holds: itself, or one per record for JSON Lines and web archives
    (WARC records that are not articles are counted in ``skipped``, reason -> records)."""
    key = str(path)
    try:
        stat = path.stat()
    except OSError as exc:
        yield RawInput(key=key, kind="file", rejection=_cannot_read(exc))
        return
    modified = _iso_mtime(stat)
    if not path.is_file():
        yield RawInput(key=key, kind="file", rejection=Rejection("not a regular file"))
        return
    if stat.st_size == 0:
        yield RawInput(key=key, kind="file", modified=modified, rejection=_EMPTY_FILE)
        return
    if is_warc_file(path):  # streamed, record by record: the limit applies to each payload
        from etl.warc import read_warc

        yield from read_warc(path, max_bytes, skipped)
        return
    if is_container_file(path):  # streamed: the limit applies to each record
        yield from _stream_jsonl(path, key, max_bytes, modified)
        return
    if stat.st_size > max_bytes:
        yield RawInput(
            key=key,
            kind="file",
            modified=modified,
            rejection=Rejection(
                f"file too large: {stat.st_size:,} bytes > limit {max_bytes:,} "
                "(ARTICLE_ETL_MAX_INPUT_BYTES)"
            ),
        )
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield RawInput(key=key, kind="file", modified=modified, rejection=_cannot_read(exc))
        return
    if path.name.lower().endswith(".gz"):
        try:
            data = _gunzip(data, max_bytes)
        except ValueError as exc:
            yield RawInput(key=key, kind="file", modified=modified, rejection=Rejection(str(exc)))
            return
    yield RawInput(
        key=key, kind="file", data=data, media_type=media_type_for(path.name), modified=modified
    )


def rejected_from_stat(path: Path, max_bytes: int) -> bool:
    """Whether ``read_file`` rejects this file of one input from its stat alone, reading none
    of its bytes: it cannot be stat'ed (gone), is not a regular file, is empty or too large."""
    try:
        st = path.stat()
    except OSError:
        return True
    return not S_ISREG(st.st_mode) or st.st_size == 0 or st.st_size > max_bytes


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    limit = min(max_bytes, len(data) * MAX_GUNZIPPED_FACTOR)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            out = gz.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"not a valid gzip file: {exc}") from None
    if len(out) > limit:
        raise ValueError(f"gzip data inflates beyond {limit:,} bytes (possible gzip bomb)")
    return out


def _cannot_read(exc: OSError) -> Rejection:
    return Rejection(f"cannot read file: {exc.strerror or exc}")


def _bad_record(key: str, reason: str, url: str = "") -> RawInput:
    """A JSON Lines record rejected (``key`` is ``path#Lline``)."""
    return RawInput(key=key, kind="jsonl", url=url, rejection=Rejection(reason))


# Metadata a JSON Lines record may carry besides its body; etl.extract validates it.
RECORD_METADATA = ("title", "published", "author", "language", "url")


_READ_CHUNK = 1024 * 1024


def _stream_jsonl(path: Path, key: str, max_bytes: int, modified: str) -> Iterator[RawInput]:
    """The records of a JSON Lines file, read a line at a time (never the whole file): a file
    of any size is read, and a record longer than ``max_bytes`` is rejected alone."""
    lineno = records = 0
    try:
        fh = path.open("rb")
    except OSError as exc:
        yield RawInput(key=key, kind="file", modified=modified, rejection=_cannot_read(exc))
        return
    with fh:
        while line := fh.readline(max_bytes + 1):
            if len(line) > max_bytes and not line.endswith(b"\n"):
                lineno += 1
                size = len(line) + _skip_line(fh)
                records += 1
                yield RawInput(
                    key=f"{key}#L{lineno}",
                    kind="jsonl",
                    modified=modified,
                    rejection=Rejection(
                        f"record too large: {size:,} bytes > limit {max_bytes:,} "
                        "(ARTICLE_ETL_MAX_INPUT_BYTES)"
                    ),
                )
                continue
            # Numbered as bytes.splitlines() counts: a lone "\r" ends a line too.
            for part in line.splitlines():
                lineno += 1
                raw = _jsonl_record(key, lineno, part, modified)
                if raw is not None:
                    records += 1
                    yield raw
    if not records:  # blank lines only: the file is an input, with its one outcome
        yield RawInput(key=key, kind="file", modified=modified, rejection=_EMPTY_FILE)


def _skip_line(fh: BinaryIO) -> int:
    """Read past the end of the current line; returns how many bytes were left of it."""
    skipped = 0
    while chunk := fh.readline(_READ_CHUNK):
        if chunk.endswith(b"\n"):
            return skipped + len(chunk.rstrip(b"\r\n"))
        skipped += len(chunk)
    return skipped


def _jsonl_record(key: str, lineno: int, line: bytes, modified: str) -> RawInput | None:
    """One line of JSON Lines: ``{"url": ..., "html": ...}`` or ``{"url": ..., "text": ...}``,
    with optional ``title``, ``published``, ``author`` and ``language``. None: a blank line."""
    if not line.strip():
        return None
    rec_key = f"{key}#L{lineno}"
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _bad_record(rec_key, f"invalid JSON on line {lineno}: {exc}")
    except RecursionError:  # "[[[[..." nested deeper than the parser's stack
        return _bad_record(rec_key, f"invalid JSON on line {lineno}: nested too deep")
    if not isinstance(record, dict):
        return _bad_record(rec_key, "JSON Lines record is not an object")
    url = record.get("url") if isinstance(record.get("url"), str) else ""
    if not str(url).startswith(("http://", "https://")):
        url = ""  # not a web address: extraction warns about it
    html, text = record.get("html"), record.get("text")
    if isinstance(html, str) and html.strip():
        body, media_type = html, "html"
    elif isinstance(text, str) and text.strip():
        body, media_type = text, "text"
    else:
        return _bad_record(rec_key, 'record has neither "html" nor "text"', url or "")
    try:
        encoded = body.encode("utf-8")
    except UnicodeEncodeError as exc:  # valid JSON may hold a lone surrogate ("\ud800")
        reason = f"record text is not valid Unicode: {exc.reason} (character {exc.start})"
        return _bad_record(rec_key, reason, url or "")
    given = {k: record[k] for k in RECORD_METADATA if record.get(k) is not None}
    if url:
        given.pop("url")  # a valid URL is the input's URL (RawInput.url)
    return RawInput(
        key=rec_key,
        kind="jsonl",
        data=encoded,
        media_type=media_type,
        url=url or "",
        modified=modified,
        extra={"metadata": json.dumps(given, ensure_ascii=False)} if given else {},
    )


def is_warc_file(path: Path | str) -> bool:
    """A web archive (``.warc``, ``.warc.gz``): many inputs, read by ``etl.warc``."""
    return str(path).lower().endswith(WARC_SUFFIXES)


def is_container_file(path: Path) -> bool:
    """A file of many inputs (JSON Lines): the ledger knows its records, not the file."""
    return path.name.lower().endswith((".jsonl", ".ndjson"))


def is_single_input_file(path: Path) -> bool:
    """A file that is one input (HTML, text, Markdown, their ``.gz`` forms, any file named
    explicitly), not one of many inputs (JSON Lines, web archives)."""
    return not is_container_file(path) and not is_warc_file(path)


# A file whose times are at least this much older than the moment it is read is taken to be at
# rest: a write in the same clock tick as the read could change it again without its times
# moving (as git's "racy" entries). Seconds.
SETTLED_FILE_SECONDS = 2.0


def file_signature(path: Path, now: float | None = None) -> str | None:
    """The stat signature of a file of one input (size, modification and change times in ns,
    inode), or None: a container of many inputs, a file that cannot be stat'ed, or one that
    changed too recently to be at rest (``SETTLED_FILE_SECONDS``)."""
    if not is_single_input_file(path):
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    newest = max(st.st_mtime_ns, st.st_ctime_ns) / 1e9
    if (time.time() if now is None else now) - newest < SETTLED_FILE_SECONDS:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def recorded_hash(path: Path, max_bytes: int) -> str | None:
    """The bytes hash the ledger records for the file ``path`` (``RawInput.raw_hash``), or None
    when the file cannot be read as one input (missing, unreadable, empty, too large, not valid
    gzip, or a container of many inputs).

    For ``.gz`` files it is the hash of the *inflated* bytes, as ``read_file`` yields them: hashing
    the file as stored would never match what was recorded, so every compressed file would look
    changed on every run."""
    if not is_single_input_file(path):
        return None
    raws = list(read_file(path, max_bytes))
    if len(raws) != 1 or raws[0].rejection is not None:
        return None
    return raws[0].raw_hash


def read_inputs(
    paths: Iterable[Path], max_bytes: int, skipped: Counter[str] | None = None
) -> Iterator[RawInput]:
    for path in paths:
        yield from read_file(path, max_bytes, skipped)
