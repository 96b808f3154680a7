"""The bytes hash of each input file, kept with the file's stat signature (schema version 5),
so that a run can tell an untouched file's hash without reading it, as git's index does.

The signature (``etl.sources.file_signature``) is the size, the modification and change times
in nanoseconds and the inode: rewriting a file changes its change time even when the size and
the modification time are put back (``cp -p``, ``touch -r``). A signature is only noted for a
file whose times are a few seconds older than the moment it was read, since a file written in
the same clock tick as it was read could change again without its times moving.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from etl.ledger.db import Database


class FileHashes:
    """Signature -> bytes hash of input files, in the ledger's database ``db``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def lookup(self, signatures: dict[str, str]) -> dict[str, str]:
        """Source -> bytes hash of the files whose signature is still the one noted with
        it (``signatures``: source -> its signature now). One query per 500 files."""
        found: dict[str, str] = {}
        sources = sorted(signatures)
        for i in range(0, len(sources), 500):
            chunk = sources[i : i + 500]
            rows = self._db.execute(
                "SELECT source, signature, raw_hash FROM ledger_file_hashes "
                f"WHERE source IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            for row in rows:
                if signatures[row["source"]] == row["signature"]:
                    found[row["source"]] = row["raw_hash"]
        return found

    def note(self, entries: Sequence[tuple[str, str, str]]) -> None:
        """Note (source, signature, bytes hash) of files just read, in one transaction."""
        if not entries:
            return
        with self._db.transaction():
            self._db.executemany(
                "INSERT INTO ledger_file_hashes(source, signature, raw_hash) VALUES (?, ?, ?) "
                "ON CONFLICT(source) DO UPDATE SET signature=excluded.signature, "
                "raw_hash=excluded.raw_hash",
                sorted(entries),
            )

    def forget(self, sources: Iterable[str]) -> None:
        """Drop what is noted of these files (their next run reads them)."""
        keys = sorted(set(sources))
        if keys:
            with self._db.transaction():
                self._db.executemany(
                    "DELETE FROM ledger_file_hashes WHERE source = ?", [(k,) for k in keys]
                )
