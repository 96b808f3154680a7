"""What takes long to build and stays the same while its sources do (the gazetteer's index, the
language identifier's model), kept on disk between processes.

Every worker of every run would otherwise build these again: about a second of a core each,
which is most of what a small incremental run costs. An entry is named by what it is and a
fingerprint of what it is built from (the builder's module, the versions of the packages whose
data it reads, the Python version), so a new release of either builds it anew. Writes are
atomic (a temporary file renamed), so workers starting together may both build an entry but
never read half of one. A folder that cannot be written, or an entry that cannot be read,
costs only the build.

The folder is set once per process with ``use_directory`` (``ARTICLE_ETL_CACHE_DIR``, passed
to the workers by ``etl.process``); until then nothing is cached on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TypeVar, cast

LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
SUFFIX = ".pickle"

_directory: Path | None = None


def use_directory(folder: str | os.PathLike[str] | None) -> None:
    """Keep entries in ``folder`` from now on in this process (None: build in memory only)."""
    global _directory
    _directory = Path(folder) if folder else None


def fingerprint(modules: Iterable[ModuleType] = (), packages: Iterable[str] = ()) -> str:
    """A short hash of the modules' source files, the packages' versions and Python's version:
    what an entry built by those modules from those packages' data depends on."""
    digest = hashlib.sha256(sys.version.encode())
    for module in modules:
        source = getattr(module, "__file__", None)
        digest.update(Path(source).read_bytes() if source else module.__name__.encode())
    for package in packages:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "?"
        digest.update(f"\0{package}={version}".encode())
    return digest.hexdigest()[:16]


def cached(name: str, key: str, build: Callable[[], _T]) -> _T:
    """The entry ``name`` for ``key`` (a ``fingerprint``): read from the folder, or built and
    written there (entries of ``name`` for other keys are removed then)."""
    folder = _directory
    if folder is None:
        return build()
    path = folder / f"{name}-{key}{SUFFIX}"
    try:
        fh = path.open("rb")
    except OSError:  # not built yet, or a folder that cannot be used
        pass
    else:
        with fh:
            try:
                value: _T = pickle.load(fh)
                return value
            except Exception as exc:  # a truncated or foreign file: built again, replaced
                LOG.warning("cache entry %s unreadable (%s): built again", path, type(exc).__name__)
    value = build()
    _write(folder, path, name, value)
    return value


def _write(folder: Path, path: Path, name: str, value: object) -> None:
    tmp: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=folder, prefix=f".{name}-", suffix=".tmp", delete=False
        ) as fh:
            tmp = fh.name
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as exc:  # read-only home, full disk: the next process builds it again
        LOG.debug("cache entry %s not written: %s", path, exc)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return
    for old in folder.glob(f"{name}-*{SUFFIX}"):
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink()


_MISSING = object()


class Memo:
    """The answers of a slow, pure function, kept on disk across processes: one SQLite file of
    pickled answers per (name, fingerprint), in the cache folder. Workers of a later run ask
    it before loading the library that answers (dateparser costs a worker about 0.3 s of a core
    to load for its first phrase). Any failure of the file (locked, unwritable, corrupt) only
    costs asking the function."""

    def __init__(self, name: str, key: Callable[[], str]) -> None:
        self.name = name
        self._key = key
        self._conn: sqlite3.Connection | None = None
        self._owner: tuple[int, Path | None] | None = None  # the process and folder it is for

    def remembered(self, args: str, compute: Callable[[], _T]) -> _T:
        """The answer for ``args`` (the arguments as one string): from the file, or computed
        and written to it."""
        conn = self._connection()
        if conn is None:
            return compute()
        found = self._get(conn, args)
        if found is not _MISSING:
            return cast(_T, found)
        value = compute()
        try:
            blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            conn.execute("INSERT OR IGNORE INTO answers (args, answer) VALUES (?, ?)", (args, blob))
        except (sqlite3.Error, pickle.PicklingError, TypeError) as exc:
            LOG.debug("%s: answer not kept: %s", self.name, exc)
        return value

    def _get(self, conn: sqlite3.Connection, args: str) -> object:
        try:
            row = conn.execute("SELECT answer FROM answers WHERE args = ?", (args,)).fetchone()
            return _MISSING if row is None else pickle.loads(row[0])
        except Exception as exc:  # a locked file, or an answer pickled by other code
            LOG.debug("%s: answer not read: %s", self.name, exc)
            return _MISSING

    def _connection(self) -> sqlite3.Connection | None:
        owner = (os.getpid(), _directory)
        if owner == self._owner:
            return self._conn
        # A new process (a forked worker must not share its parent's connection) or folder.
        self._owner, self._conn = owner, None
        if _directory is None:
            return None
        path = _directory / f"{self.name}-{self._key()}.sqlite"
        try:
            _directory.mkdir(parents=True, exist_ok=True)
            if not path.exists():  # answers of other versions are of no use any more
                for old in _directory.glob(f"{self.name}-*.sqlite*"):
                    with contextlib.suppress(OSError):
                        old.unlink()
            conn = sqlite3.connect(path, timeout=MEMO_BUSY_S, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")  # a lost answer is asked again
            conn.execute(
                "CREATE TABLE IF NOT EXISTS answers (args TEXT PRIMARY KEY, answer BLOB NOT NULL)"
            )
        except (sqlite3.Error, OSError) as exc:
            LOG.debug("%s: no answers kept on disk: %s", self.name, exc)
            return None
        self._conn = conn
        return conn


MEMO_BUSY_S = 1.0  # how long an answer waits for another process's write, at most
