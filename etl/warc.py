"""Web archives as inputs: ``.warc`` and ``.warc.gz`` files, as Common Crawl News publishes them.

A WARC file is read as a stream (warcio's ``ArchiveIterator``: one record at a time, so memory
stays the same whatever the file's size). Each ``response`` record of an HTTP 200 with an HTML
payload is one input, keyed like a URL input by its ``WARC-Target-URI`` canonicalised with
courlan (``etl.web.discovery.canonicalize``); its payload (chunked and Content-Encoding
decoded) is the input's bytes, the charset of its HTTP ``Content-Type`` the declared encoding,
and ``WARC-Date`` the time it was fetched. The ledger compares the payload's hash as for any
input, so a second run over the same archive finds every record ``unchanged`` before any HTML
is parsed, and a run killed halfway resumes where it stopped.

Records that are not articles are skipped and counted, not inputs: ``warcinfo``, ``request``,
``metadata``, ``revisit`` (a payload identical to an earlier capture, stored without it) and
other record types, non-HTTP responses (``dns:``), responses other than HTTP 200, and
non-HTML payloads. A record that is an article but cannot be read is a rejected input: a
payload the file ends inside (a truncated download), a payload larger than
``ARTICLE_ETL_MAX_INPUT_BYTES``, a target URI that is not an http(s) URL; data that cannot be
parsed at all is rejected under ``<file>#<byte offset>``, and reading stops there.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from etl.outcomes import Rejection
from etl.record import RawInput

LOG = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_CHUNK = 64 * 1024

# Why a record was skipped, as counted in the run's summary.
SKIP_NOT_HTTP = "non-HTTP response"
SKIP_NOT_HTML = "non-HTML response"


def skip_reason_for_type(record_type: str) -> str:
    return f"{record_type} record"


def read_warc(
    path: Path, max_bytes: int, skipped: Counter[str] | None = None
) -> Iterator[RawInput]:
    """The article inputs of one WARC file, one record at a time; skipped records are counted
    in ``skipped`` (reason -> records)."""
    counts: Counter[str] = skipped if skipped is not None else Counter()
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        archive = ArchiveIterator(fh)
        records = iter(archive)
        start = 0
        while True:
            try:
                record = next(records)
                start = int(archive.offset)
                raw = _record_input(record, path, start, max_bytes, counts)
            except StopIteration:
                break
            except Exception as exc:  # not WARC data, a broken gzip member...
                # Where the bad record starts, when warcio knows it (it is past the last good
                # one); else the start of the last record read.
                start = max(start, int(archive.offset))
                LOG.warning("%s: unreadable from byte %d: %s", path, start, exc)
                yield RawInput(
                    key=_position(path, start),
                    kind="warc",
                    rejection=Rejection(
                        f"unreadable WARC data from byte {start:,}: {Rejection.of(exc)} "
                        "(the rest of the file is not read)"
                    ),
                )
                return
            if raw is not None:
                yield raw
        end = int(archive.offset)
    if end < size:
        # warcio ends quietly when the file stops inside a record's headers (a gzip member
        # cut short): what was not read is one truncated record.
        yield RawInput(
            key=_position(path, end),
            kind="warc",
            rejection=Rejection(
                f"truncated WARC record: the file ends inside the record at byte {end:,}"
            ),
        )


def _record_input(
    record: Any, path: Path, start: int, max_bytes: int, skipped: Counter[str]
) -> RawInput | None:
    """One record: an input (maybe rejected), or None when it is skipped (and counted)."""
    record_type = str(record.rec_type or "unknown")
    if record_type != "response":
        skipped[skip_reason_for_type(record_type)] += 1
        return None
    http = record.http_headers
    if http is None or not str(http.protocol or "").upper().startswith("HTTP"):
        skipped[SKIP_NOT_HTTP] += 1
        return None
    status = str(http.get_statuscode() or "")
    if status != "200":
        skipped[f"HTTP {status or '?'} response"] += 1
        return None
    content_type = str(http.get_header("Content-Type") or "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media not in HTML_TYPES:
        skipped[SKIP_NOT_HTML] += 1
        return None
    target = str(record.rec_headers.get_header("WARC-Target-URI") or "").strip()
    key, problem = _key_for(target, _position(path, start))
    if problem:
        _drain(record)
        return RawInput(key=key, kind="warc", rejection=Rejection(problem))
    try:
        data = record.content_stream().read(max_bytes + 1)
    except Exception as exc:  # a Content-Encoding that does not decode
        _drain(record)
        return _rejected(key, Rejection.of(exc, "cannot decode the payload"))
    if not media and not _looks_like_html(data):
        _drain(record)
        skipped[SKIP_NOT_HTML] += 1
        return None
    missing = _drain(record)
    if missing:
        return _rejected(
            key, f"truncated WARC record: the file ends {missing:,} bytes before the record does"
        )
    if len(data) > max_bytes:
        return _rejected(
            key, f"payload too large: more than {max_bytes:,} bytes (ARTICLE_ETL_MAX_INPUT_BYTES)"
        )
    extra: dict[str, str] = {}
    charset = _CHARSET.search(content_type)
    if charset:
        extra["charset"] = charset.group(1)
    fetched = _iso_date(record.rec_headers.get_header("WARC-Date"))
    if fetched:
        extra["fetched_at"] = fetched
    if not data.strip():
        empty = Rejection("empty payload")
        return RawInput(key=key, kind="warc", url=key, rejection=empty, extra=extra)
    return RawInput(key=key, kind="warc", data=data, media_type="html", url=key, extra=extra)


def _drain(record: Any) -> int:
    """Read the rest of the record; the number of bytes its headers announced that the file
    does not hold (0 for a complete record)."""
    stream = record.raw_stream
    while stream.read(_CHUNK):
        pass
    return int(getattr(stream, "limit", 0) or 0)


def _key_for(target: str, where: str) -> tuple[str, str]:
    """The record's input key (its canonical URL) or, when the target is not an http(s) URL,
    its place in the file and why it is rejected."""
    from etl.web.discovery import InvalidURL, canonicalize

    if not target:
        return where, "record has no WARC-Target-URI"
    try:
        return canonicalize(target), ""
    except InvalidURL as exc:
        return where, f"WARC-Target-URI {_shown(target)}: {exc}"
    except Exception as exc:  # courlan on a URL nobody foresaw
        return where, f"WARC-Target-URI {_shown(target)}: invalid URL ({Rejection.of(exc)})"


def _rejected(url: str, reason: str) -> RawInput:
    return RawInput(key=url, kind="warc", url=url, rejection=Rejection(reason))


def _shown(url: str) -> str:
    from etl.web.protocol import shown_url

    return repr(shown_url(url)[:200])


def _looks_like_html(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head or b"<head" in head


def _iso_date(value: str | None) -> str | None:
    """``WARC-Date`` (W3C-ISO8601, UTC) as ISO 8601 with its offset; None when it is not one."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.isoformat()


def _position(path: Path, offset: int) -> str:
    return f"{path}#{offset}"


# --- archives read to the end ------------------------------------------------------------------

# A web archive is many inputs, so the ledger knows its records, not the file. To list the
# files of an inbox that need a run (``etl.inputs.changed_files``, the Airflow DAG) without
# reading every archive again, a run that ends well notes each archive it read to the end with
# its size and modification time: while they stay the same, the archive is not listed.
_ARCHIVES_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_warc_files (
    path    TEXT PRIMARY KEY,
    state   TEXT NOT NULL,                -- size:mtime_ns:pipeline version when it was read
    read_at TEXT NOT NULL
);
"""


def archive_state(path: Path) -> str | None:
    """What identifies this version of the archive file (None: it cannot be looked at)."""
    from etl.record import PIPELINE_VERSION

    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}:{PIPELINE_VERSION}"


def _open_archives(ledger_location: str | Path) -> Any:
    """The ledger's database (``etl.ledger.db``) with its ``ledger_warc_files`` table."""
    from etl.ledger import now_iso, open_database
    from etl.ledger.db import migrate

    db = open_database(ledger_location)
    try:
        migrate(db, "warc_files", (_ARCHIVES_SCHEMA,), now_iso())
    except BaseException:
        db.close()
        raise
    return db


def archives_read(ledger_location: str | Path) -> dict[str, str]:
    """Archive path -> its state when a run last read it to the end."""
    db = _open_archives(ledger_location)
    try:
        rows = db.execute("SELECT path, state FROM ledger_warc_files").fetchall()
        return {r["path"]: r["state"] for r in rows}
    finally:
        db.close()


def mark_archives_read(ledger_location: str | Path, paths: dict[str, Path]) -> None:
    """Note the archives (key -> file) a run read to the end and recorded every input of."""
    from etl.ledger import now_iso

    rows = [(key, state, now_iso()) for key, p in paths.items() if (state := archive_state(p))]
    if not rows:
        return
    db = _open_archives(ledger_location)
    try:
        with db.transaction():
            db.executemany(
                "INSERT INTO ledger_warc_files(path, state, read_at) VALUES (?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET state = excluded.state, "
                "read_at = excluded.read_at",
                sorted(rows),
            )
    finally:
        db.close()
