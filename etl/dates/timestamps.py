"""Publication timestamps as pages, feeds and inputs write them, parsed and validated."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import NamedTuple

from etl.dates.dateparser_adapter import strict_day
from etl.dates.normalise import normalise_one
from etl.dates.timex import UNKNOWN
from etl.dates.vocabulary import LazyPattern

# --------------------------------------------------------------------------- timestamps


class Stamp(NamedTuple):
    """A parsed publication timestamp."""

    day: date  # the day where it was published (local to its offset)
    iso: str  # normalised: "YYYY-MM-DD", or "YYYY-MM-DDTHH:MM:SS+HH:MM" when a zone was given
    offset: timedelta | None  # the UTC offset, when given
    has_time: bool

    @property
    def instant(self) -> datetime | None:
        if self.offset is None or not self.has_time:
            return None
        return datetime.fromisoformat(self.iso)


_ISO_STAMP = LazyPattern(
    r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2})(?::?(\d{2})(?:[.,]\d+)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT)?)?$",
    re.I,
)


def _offset(zone: str | None) -> timedelta | None:
    if not zone:
        return None
    if zone.upper() in ("Z", "UTC", "GMT"):
        return timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        raise ValueError("offset out of range")
    return sign * timedelta(hours=hours, minutes=minutes)


def _stamp(dt: datetime, offset: timedelta | None, has_time: bool) -> Stamp:
    day = dt.date()
    if offset is None or not has_time:
        return Stamp(day, day.isoformat(), None, has_time)
    aware = dt.replace(tzinfo=timezone(offset))
    return Stamp(day, aware.isoformat(timespec="seconds"), offset, True)


def parse_timestamp(value: str) -> Stamp | None:
    """A publication timestamp as pages and feeds write it: ISO 8601 (with or without a time and
    an offset), RFC 2822 ("Thu, 07 Nov 2024 09:42:00 GMT"), or an unambiguous written date
    ("March 4, 2025", "4 March 2025"). The time is kept only with its offset: a local time
    without a zone keeps its day only. None for anything else."""
    value = " ".join(str(value).split())
    if not value or len(value) > 64:
        return None
    if m := _ISO_STAMP.match(value):
        y, mo, d, hh, mm, ss, zone = m.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
            off = _offset(zone)
        except ValueError:
            return None
        return _stamp(dt, off, hh is not None)
    if re.match(r"^[A-Za-z]{3},? \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}", value):
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            off = parsed.utcoffset()
            return _stamp(parsed.replace(tzinfo=None), off, True)
    mention = normalise_one(value, None, UNKNOWN)
    if mention.resolved and mention.granularity == "day" and not mention.relative:
        return Stamp(date.fromisoformat(mention.start or ""), mention.start or "", None, False)
    return None


_YEAR_MONTH = LazyPattern(r"^(\d{4})(?:-(\d{2}))?$")


def parse_published(
    value: object, *, earliest: date = date(1800, 1, 1), today: date | None = None
) -> str | None:
    """A publication date given with the input, normalised, or None when it is not a date.

    Accepts ISO 8601 ("2025-03-04", "2025-03", "2025", "2025-03-04T10:00:00+01:00"),
    RFC 2822, and unambiguous written dates ("March 4, 2025" -> "2025-03-04"). Refuses
    ambiguous numeric dates ("03/04/2025"), relative words ("soon", "yesterday") and dates
    after tomorrow or before ``earliest``."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    latest = (today or datetime.now(UTC).date()) + timedelta(days=1)
    if m := _YEAR_MONTH.match(text):
        year, month = int(m[1]), int(m[2] or 1)
        if not 1 <= month <= 12:
            return None
        if not earliest.year <= year or date(year, month, 1) > latest:
            return None
        return text
    stamp = parse_timestamp(text)
    if stamp is None or not earliest <= stamp.day <= latest:
        return None
    return stamp.iso


def parse_stated_day(text: str) -> date | None:
    """The day a line such as "Published: 4 June 2025" states: the project's own reading of
    timestamps first (ISO, RFC 2822, unambiguous written dates), then dateparser for other
    forms and languages ("4. Juni 2025"), which is loaded only then."""
    stamp = parse_timestamp(text)
    if stamp is not None:
        return stamp.day
    return strict_day(" ".join(text.split()))
