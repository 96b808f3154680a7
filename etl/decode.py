"""Bytes to text: binary files refused, the encoding detected (BOM, meta charset, UTF-8, then
charset-normalizer), and when it had to be guessed, said so."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
# Control characters other than tab, newline, form feed and carriage return.
_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13})


class NotText(ValueError):
    """The bytes are not text (binary) or cannot be decoded."""


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    guessed: bool  # True when neither a BOM, a declared charset nor valid UTF-8 told us


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    controls = sum(head.count(bytes([c])) for c in _CONTROL)
    return controls > max(8, len(head) // 100)


def decode(data: bytes, *, html: bool = False) -> Decoded:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding), encoding.replace("-sig", ""), False)
            except UnicodeDecodeError as exc:
                raise NotText(f"invalid {encoding} text after its byte-order mark: {exc}") from None
    head = data[:8192]
    if _looks_binary(head):
        raise NotText("binary file (not text)")
    if html:
        match = _META_CHARSET.search(data[:4096])
        if match:
            declared = match.group(1).decode("ascii", "replace").lower()
            try:
                codecs.lookup(declared)
                return Decoded(data.decode(declared, errors="replace"), declared, False)
            except LookupError:
                pass  # an unknown declared charset: detect instead
    try:
        return Decoded(data.decode("utf-8"), "utf-8", False)
    except UnicodeDecodeError:
        pass
    matches = list(from_bytes(data[:65536]))
    if matches:
        least_chaos = min(m.chaos for m in matches)
        tied = [m.encoding for m in matches if m.chaos <= least_chaos]
        # Short Western texts fit several code pages equally well; cp1252 is by far the most
        # common of them, so it wins ties (charset-normalizer alone picks e.g. cp1250).
        encoding = "cp1252" if "cp1252" in tied else tied[0]
        return Decoded(data.decode(encoding, errors="replace"), encoding, True)
    # Every byte sequence is valid cp1252-ish Latin text; the most common legacy encoding.
    return Decoded(data.decode("cp1252", errors="replace"), "cp1252", True)
