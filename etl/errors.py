"""The error families, declared once: what a failure means for the run decides who catches it.

* ``InputRejected``: this input can never succeed as it is (not an article, malformed, refused
  by the server). It is recorded as rejected with the message as its reason; the batch goes on.
* ``TransientError``: the run cannot go on now (the index unreachable or overloaded). It is
  raised so that Airflow retries the task; the documents of the batch stay pending.
* ``SetupError``: the configuration is wrong (a missing index, a bad setting). Retrying cannot
  fix it, so the run fails at once, and the message says what to do.

Each module's own exceptions (``FetchError``, ``TransientIndexError``, ``IndexSetupError``...)
derive from one of these, so a caller catches the family and not every member of it.
"""

from __future__ import annotations

from etl.outcomes import Rejection


class InputRejected(Exception):
    """An input that can never succeed as it is; the message is the reason it is recorded with."""

    @property
    def rejection(self) -> Rejection:
        return Rejection(str(self))


class TransientError(Exception):
    """A failure that retrying later may fix: the task fails, Airflow retries it."""


class SetupError(Exception):
    """A configuration that retrying cannot fix: fail at once, the message says the fix."""
