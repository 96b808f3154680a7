"""Date mentions normalised to TimeML/TIMEX3 values, and publication timestamps parsed.

Mentions are the DATE (and, when they name a part of a day, TIME) entities spaCy finds. Each
becomes a ``DateMention`` with its character ``span`` in the stored text, a TIMEX3 ``value``, a
granularity and, for calendar periods, the first and last day it covers (``start``/``end``,
for range filters). Relative mentions are resolved against the publication date
(``reference``). Anything ambiguous is kept with ``resolved=False`` and a ``note`` saying why,
never with a guessed value.

Values (TIMEX3 notation where ISO 8601 has none):

=========== ====================== ===========================================================
day         ``2025-11-27``          with a part of the day: ``2025-11-27TMO`` (MO, AF, EV, NI)
week        ``2025-W48``            ISO week; a weekend is ``2025-W48-WE``
month       ``2025-11``
season      ``2025-FA``             SP Mar-May, SU Jun-Aug, FA Sep-Nov, WI Dec-Feb
                                    (``2025-WI`` = Dec 2025 - Feb 2026)
quarter     ``2025-Q3``             calendar quarters
half        ``2025-H1``
year        ``2014``                fiscal years ``FY2013`` (dates depend on the organisation:
                                    no start/end)
decade      ``199X``
century     ``19``                  the 20th century; start/end use 1900-1999
reference   ``PRESENT_REF``         "now", "currently"; ``PAST_REF`` ("recently", "the past"),
                                    ``FUTURE_REF`` ("the future"); no start/end
duration    ``P2W``, ``PT3H``       TIMEX3 DURATION ("two weeks", "several years" = ``PXY``);
                                    not a date: no start/end
set         ``P1Y``                 TIMEX3 SET, a frequency ("every year", "annually");
                                    ``XXXX-WXX-1`` for "every Monday"; no start/end
=========== ====================== ===========================================================

A phrase naming several dates becomes one mention per date, each with its own span: year pairs
and ranges ("2009/2010", "1991 to 1997", "1957-58" -> 1957 and 1958), "March and April 2012",
"Monday and Tuesday".

Relative mentions (``ref`` = the publication date). A month, season, quarter, holiday or
weekday without a year is placed by the **tense of its sentence** (TimeML practice, as
HeidelTime does for news): the verb group nearest to the mention decides (spaCy's tags when
the caller gives them: VBD past, MD "will"/"shall"/"would" future, VBZ/VBP present; "is to",
"plans to", "expected to", "going to" are future; without tags, word lists do the same).

* past tense: the most recent one that has begun by ``ref`` ("August" in a March 2013 article
  that says "sales fell in August" is ``2012-08``; "Friday" is ``ref`` itself or the Friday
  before);
* future tense: the coming one, or the current one if ``ref`` is inside it;
* present tense: the closest one (ties go to the past);
* no verb to go by: months, seasons, quarters and holidays are taken as past (news reports
  what happened), weekdays and month-days as the closest.

"last Friday" / "next Friday" are the one strictly before / after ``ref``; "this week",
"last month", "next year", "this quarter" are calendar units around ``ref``; "this fall" is
that season in ``ref``'s year; "N days/weeks/months/years ago" count back; "early/mid/late X",
"the end of X" resolve to X with an "approximate" note; "the first half" is ``-H1``.

Never resolved (``resolved=False``): anaphoric mentions ("the next day", "that year": relative
to another event), "the weekend" without a tense, a quarter or fiscal period without a year,
ambiguous numeric dates ("03/04/2025"), a decade that could be a century ("the 2000s").

Parsing is rule-first: common forms never reach dateparser, which is only asked about phrases
with a digit that no rule knows (other languages, odd formats), and its answers are cached per
(phrase, publication date). A missing or broken dateparser raises: it is never taken for
"unparsable".

The package, in the order a mention goes through it: ``vocabulary`` (the words and patterns
dates are written with), ``timex`` (values, builders, which occurrence a tense means), the
project's rules (``rules_days``, ``rules_periods``, ``holidays``, ``rules_timeml``),
``dateparser_adapter`` (the fallback), ``normalise`` (one mention; several dates in one
phrase), ``tense`` and ``mentions`` (mentions in a text), ``timestamps`` (publication dates
given as text), ``page_evidence`` and ``pubdate`` (the publication date of a web page).
``DateMention`` itself is part of the record (``etl.record``).
"""

from __future__ import annotations

from etl.dates.mentions import DocDates, mentions_in_text
from etl.dates.normalise import normalise_mention, normalise_mentions
from etl.dates.tense import sentence_tense
from etl.dates.timestamps import Stamp, parse_published, parse_stated_day, parse_timestamp

__all__ = [
    "DocDates",
    "Stamp",
    "mentions_in_text",
    "normalise_mention",
    "normalise_mentions",
    "parse_published",
    "parse_stated_day",
    "parse_timestamp",
    "sentence_tense",
]
