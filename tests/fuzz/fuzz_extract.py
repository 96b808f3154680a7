"""Fuzz target: ``etl.extract.extract`` on any bytes as HTML, text, Markdown or a JSON Lines
record. It returns an article or refuses with ``Rejected`` (the recorded reason); nothing else.

    nice -n 19 .venv/bin/python tests/fuzz/fuzz_extract.py -max_total_time=600 -timeout=60 \\
        .cache/fuzz/extract examples/articles
"""

from __future__ import annotations

import logging
import sys

import atheris

with atheris.instrument_imports(include=["etl"]):
    from etl.extract import Rejected, extract
    from etl.record import RawInput

MEDIA_TYPES = ["", "html", "text", "markdown"]
KINDS = ["file", "jsonl", "url"]
METADATA = [
    "",
    '{"published": "2025-03-14", "title": "T"}',
    '{"published": "yesterday", "author": ["A", 3], "language": "xx-YY"}',
]

logging.disable(logging.CRITICAL)  # rejections are logged as warnings: not findings


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    media_type = MEDIA_TYPES[fdp.ConsumeIntInRange(0, len(MEDIA_TYPES) - 1)]
    kind = KINDS[fdp.ConsumeIntInRange(0, len(KINDS) - 1)]
    metadata = METADATA[fdp.ConsumeIntInRange(0, len(METADATA) - 1)]
    url = "https://news.example/a/b.html" if fdp.ConsumeBool() else ""
    raw = RawInput(
        key="/fuzz/input",
        kind=kind,
        data=fdp.ConsumeBytes(fdp.remaining_bytes()),
        media_type=media_type,
        url=url,
        modified="2025-03-14T09:30:00+00:00",
        extra={"metadata": metadata} if metadata else {},
    )
    try:
        article = extract(raw, min_words=5)
    except Rejected:
        return
    article.to_document()
    assert article.text.strip()
    article.text.encode("utf-8")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
