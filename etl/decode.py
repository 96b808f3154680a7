"""Bytes to text: binary files refused, the encoding detected (BOM, meta charset, UTF-8, then
charset-normalizer), and when it had to be guessed, said so."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

from etl.errors import InputRejected

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
_SURROGATE = re.compile("[\ud800-\udfff]")


class NotText(InputRejected, ValueError):
    """The bytes are not text (binary) or cannot be decoded."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """The text of an input's bytes and the encoding it was read with (guessed or declared)."""

    text: str
    encoding: str
    guessed: bool  # True when neither a BOM, a declared charset nor valid UTF-8 told us


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    controls = sum(head.count(bytes([c])) for c in _CONTROL)
    return controls > max(8, len(head) // 100)


def _western(data: bytes) -> bool:
    """Latin-script text in a legacy 8-bit encoding has few non-ASCII bytes (accents in mostly
    ASCII words); Cyrillic or Greek text has mostly non-ASCII letters. Detectors guess badly
    on short Western texts (cp1250, cp775...), so those go to cp1252, by far the most common."""
    sample = data[:65536]
    high = sum(1 for b in sample if b >= 0x80)
    letters = sum(1 for b in sample if (65 <= b <= 90) or (97 <= b <= 122)) + high
    return high > 0 and high / max(1, letters) < 0.3


def decode(data: bytes, *, html: bool = False, declared: str | None = None) -> Decoded:
    """Text of ``data``. ``declared``: the charset the HTTP response named, if any.

    The text is always valid Unicode: a lone surrogate, which some declared codecs produce
    (``utf-7``: ``+2AA-``; ``unicode_escape``), becomes U+FFFD. Neither SQLite nor JSON output
    nor spaCy would take it."""
    decoded = _decode(data, html=html, declared=declared)
    if _SURROGATE.search(decoded.text) is None:
        return decoded
    return Decoded(_SURROGATE.sub("\ufffd", decoded.text), decoded.encoding, decoded.guessed)


def _decode_as(data: bytes, charset: str) -> str | None:
    """``data`` decoded as the charset a page or a server declared, unreadable bytes replaced;
    None when that charset cannot decode a page (then the encoding is detected instead): an
    unknown name, a codec that is no text encoding (``base64``), or one that cannot replace
    what it cannot read (``idna``, ``undefined``)."""
    try:
        codecs.lookup(charset)
        return data.decode(charset, errors="replace")
    except (LookupError, ValueError):  # ValueError: UnicodeError, or a NUL in the name
        return None


def _decode(data: bytes, *, html: bool, declared: str | None) -> Decoded:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding), encoding.replace("-sig", ""), False)
            except UnicodeDecodeError as exc:
                raise NotText(f"invalid {encoding} text after its byte-order mark: {exc}") from None
    head = data[:8192]
    if _looks_binary(head):
        raise NotText("binary file (not text)")
    if declared:
        text = _decode_as(data, declared)
        if text is not None:
            return Decoded(text, declared.lower(), False)
    if html:
        match = _META_CHARSET.search(data[:4096])
        if match:
            declared = match.group(1).decode("ascii", "replace").lower()
            text = _decode_as(data, declared)
            if text is not None:
                return Decoded(text, declared, False)
    try:
        return Decoded(data.decode("utf-8"), "utf-8", False)
    except UnicodeDecodeError:
        pass
    if _western(data):
        try:
            return Decoded(data.decode("cp1252"), "cp1252", True)
        except UnicodeDecodeError:
            pass  # bytes cp1252 leaves undefined: not cp1252
    best = from_bytes(data[:65536]).best()
    if best is not None and best.encoding:
        return Decoded(data.decode(best.encoding, errors="replace"), best.encoding, True)
    # Every byte sequence is valid cp1252-ish Latin text; the most common legacy encoding.
    return Decoded(data.decode("cp1252", errors="replace"), "cp1252", True)
