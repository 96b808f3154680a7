"""gzip/deflate decoding with a bound on the *output*, for response bodies (Content-Encoding)
and for gzipped documents (``sitemap.xml.gz``) alike: a 20 kB gzip body that would inflate to
20 GB stops at the limit instead of filling the memory (urllib3's own decoding would not)."""

from __future__ import annotations

import zlib

from etl.web.protocol import FetchError

ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip", "deflate"})


class BoundedInflater:
    """Decodes one body fed in chunks, keeping at most ``limit`` bytes of output.

    ``feed`` returns True when the output is full and ``truncate`` is set; without
    ``truncate`` going over the limit raises ``FetchError`` ("gzip bomb", "too large")."""

    def __init__(self, encoding: str, limit: int, truncate: bool) -> None:
        if encoding not in ENCODINGS:
            raise FetchError(f"unsupported content encoding {encoding!r}")
        self.encoding = encoding
        self.limit = limit
        self.truncate = truncate
        self.out = bytearray()
        self._z: zlib._Decompress | None = None

    @property
    def compressed(self) -> bool:
        return self.encoding not in ("", "identity")

    def feed(self, chunk: bytes) -> bool:
        if not self.compressed:
            self.out += chunk
        else:
            self._inflate(chunk)
        if len(self.out) > self.limit:
            if self.truncate:
                del self.out[self.limit :]
                return True
            if self.compressed:
                raise FetchError(
                    f"gzip bomb: {self.encoding} body inflates to more than {self.limit:,} bytes"
                )
            raise FetchError(f"too large: more than {self.limit:,} bytes")
        return False

    def _inflate(self, chunk: bytes) -> None:
        if self._z is None:
            self._z = zlib.decompressobj(_wbits(self.encoding, chunk))
        data = chunk
        try:
            while data and not self._z.eof:
                room = self.limit - len(self.out) + 1  # one byte over: proof of "too large"
                self.out += self._z.decompress(data, room)
                if len(self.out) > self.limit:
                    return
                data = self._z.unconsumed_tail
        except zlib.error as exc:
            raise FetchError(f"invalid {self.encoding} data: {exc}") from None

    def result(self) -> bytes:
        if self._z is not None and not self._z.eof and len(self.out) <= self.limit:
            try:
                self.out += self._z.flush()
            except zlib.error as exc:
                raise FetchError(f"invalid {self.encoding} data: {exc}") from None
            if len(self.out) > self.limit and not self.truncate:
                raise FetchError(f"gzip bomb: body inflates to more than {self.limit:,} bytes")
        return bytes(self.out[: self.limit])


def inflate_gzip(data: bytes, limit: int) -> bytes:
    """A whole gzip file (not a transfer encoding) inflated, refused beyond ``limit`` bytes."""
    inflater = BoundedInflater("gzip", limit, truncate=False)
    inflater.feed(data)
    return inflater.result()


def _wbits(encoding: str, first: bytes) -> int:
    if encoding in ("gzip", "x-gzip"):
        return 16 + zlib.MAX_WBITS
    # "deflate" should be zlib-wrapped (RFC 9110) but some servers send raw deflate.
    if len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0:
        return zlib.MAX_WBITS
    return -zlib.MAX_WBITS
