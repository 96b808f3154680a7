"""Fuzz target: ``etl.sources.read_inputs`` on a file of any bytes named ``.html``, ``.txt``,
``.jsonl``, ``.md`` or ``.html.gz``. Every input comes back as a ``RawInput`` (with its bytes or
the reason it cannot be read); reading never raises.

    nice -n 19 .venv/bin/python tests/fuzz/fuzz_sources.py -max_total_time=600 \\
        .cache/fuzz/sources examples/articles
"""

from __future__ import annotations

import gzip
import logging
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["etl"]):
    from etl.sources import read_inputs

SUFFIXES = [".html", ".txt", ".jsonl", ".md", ".html.gz"]
FOLDER = Path(tempfile.mkdtemp(prefix="fuzz-sources-"))
LIMIT = 64 * 1024  # small, so that the size limits are reached too

logging.disable(logging.CRITICAL)  # rejections are logged as warnings: not findings


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    suffix = SUFFIXES[fdp.ConsumeIntInRange(0, len(SUFFIXES) - 1)]
    compress = fdp.ConsumeBool()
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    if suffix.endswith(".gz") and compress:
        body = gzip.compress(body, mtime=0)
    path = FOLDER / f"input{suffix}"
    path.write_bytes(body)
    raws = list(read_inputs([path], LIMIT))
    assert raws, "every file is at least one input"
    for raw in raws:
        assert raw.key.startswith(str(path))
        assert raw.rejection is None or not raw.data, raw
        assert len(raw.data) <= LIMIT
        raw.raw_hash  # noqa: B018 - computable for every input


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
