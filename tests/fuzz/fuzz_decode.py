"""Fuzz target: ``etl.decode.decode`` on any bytes, as a page (``html``) or not, with or without
a charset named by a server. It returns text, or refuses with ``NotText``; nothing else.

    nice -n 19 .venv/bin/python tests/fuzz/fuzz_decode.py -max_total_time=600 \\
        .cache/fuzz/decode examples/articles
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["etl"]):
    from etl.decode import NotText, decode

CHARSETS = ["", "utf-8", "latin-1", "utf-7", "utf-16", "idna", "undefined", "shift_jis", "x"]


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    html = fdp.ConsumeBool()
    declared = CHARSETS[fdp.ConsumeIntInRange(0, len(CHARSETS) - 1)]
    if fdp.ConsumeBool():
        declared = fdp.ConsumeUnicodeNoSurrogates(12)
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    try:
        decoded = decode(body, html=html, declared=declared or None)
    except NotText:
        return
    decoded.text.encode("utf-8")  # always valid Unicode (no lone surrogate)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
