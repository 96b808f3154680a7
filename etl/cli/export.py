"""``article-etl extract`` (the text one page yields, no index) and ``article-etl export``
(every stored record as JSON Lines)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from etl.cli.options import (
    IndexOpt,
    JsonOpt,
    index_errors,
    load_settings,
    open_index,
    require_index,
)
from etl.cli.output import console, fail, print_json
from etl.settings import Settings

if TYPE_CHECKING:
    from etl.backends.base import IndexBackend


def extract(
    path: Annotated[
        str,
        typer.Argument(metavar="FILE", help="A file, or - for standard input (HTML or text)."),
    ],
    url: Annotated[
        str | None, typer.Option(metavar="URL", help="The page's URL, for metadata.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the clean text (and with --json the metadata) one page yields. No NER, no index."""
    from etl.extract import Rejected
    from etl.extract import extract as extract_article
    from etl.record import RawInput
    from etl.sources import media_type_for, read_file

    if path == "-":
        raw = RawInput(key="<stdin>", kind="file", data=sys.stdin.buffer.read(), url=url or "")
    else:
        try:
            max_bytes = Settings.from_env().max_input_bytes
        except ValueError as exc:
            fail(str(exc), code=2)
        raws = list(read_file(Path(path).absolute(), max_bytes))
        if not raws:
            fail(f"{path}: nothing to read", code=2)
        raw = raws[0]
        if raw.rejection:
            fail(f"{path}: {raw.rejection}", code=2)
        raw.url = url or raw.url
        raw.media_type = raw.media_type or media_type_for(path)
    try:
        article = extract_article(raw, min_words=0)
    except Rejected as exc:
        fail(f"{path}: {exc}", code=2)
    if as_json:
        doc = article.to_document()
        print_json({k: v for k, v in doc.items() if k not in {"entities", "date_mentions"}})
        return
    sys.stdout.write(article.text + "\n")


# --- export -----------------------------------------------------------------------------------


def export(
    path: Annotated[
        str,
        typer.Argument(
            metavar="PATH", help="File to write (replaced when complete); - or none: stdout."
        ),
    ] = "-",
    index: IndexOpt = None,
) -> None:
    """Write every stored article record as JSON Lines, for backups and other tools.

    One JSON object a line, UTF-8, each the whole record `show ID --json` prints (the embedded
    index in id order). A file is written beside PATH and renamed when complete, so a failed
    export never leaves half a backup.
    """
    settings = load_settings(index)
    require_index(settings)
    target = None if path == "-" else Path(path)
    if target is not None:
        if target.is_dir():
            fail(f"{path} is a folder: give a file name", code=2)
        if not target.absolute().parent.is_dir():
            fail(f"no folder {target.absolute().parent} to write {target.name} in", code=2)
    backend = open_index(settings)
    try:
        with index_errors(settings):
            if target is None:
                stream = getattr(sys.stdout, "buffer", None)
                if stream is None:  # a text-only stdout
                    count = _write_jsonl(backend, _TextAsBytes(sys.stdout))
                else:
                    count = _write_jsonl(backend, stream)
                    stream.flush()
            else:
                count = _export_to_file(backend, target)
    finally:
        backend.close()
    if target is not None:
        console.err.print(
            f"exported {count} article(s) to {escape(str(target))}",
            highlight=False,
            soft_wrap=True,
        )


class _TextAsBytes:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        return self._stream.write(data.decode("utf-8"))


def _export_to_file(backend: IndexBackend, target: Path) -> int:
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with partial.open("wb") as fh:
            count = _write_jsonl(backend, fh)
        os.replace(partial, target)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    finally:
        partial.unlink(missing_ok=True)
    return count


def _write_jsonl(backend: IndexBackend, stream: Any) -> int:
    """Write the documents; a progress bar on a terminal's stderr when there are many (counting
    first is one cheap request in both backends)."""
    documents = backend.iter_documents()
    try:
        return _write_documents(documents, stream, backend)
    finally:
        close = getattr(documents, "close", None)
        if close is not None:  # a generator: let it release its cursor or scroll now
            close()


def _write_documents(
    documents: Iterator[dict[str, Any]], stream: Any, backend: IndexBackend
) -> int:
    show_progress = console.err.is_terminal and not (
        stream is getattr(sys.stdout, "buffer", None) and console.out.is_terminal
    )
    total = backend.count() if show_progress else 0
    count = 0
    if total < 1000:
        for doc in documents:
            stream.write(_jsonl_line(doc))
            count += 1
        return count
    from rich.progress import Progress

    with Progress(console=console.err, transient=True) as progress:
        task = progress.add_task("exporting", total=total)
        for doc in documents:
            stream.write(_jsonl_line(doc))
            count += 1
            if count % 500 == 0:
                progress.update(task, completed=count)
    return count


def _jsonl_line(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
