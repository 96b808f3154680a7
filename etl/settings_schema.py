"""How a setting is declared and read: its section, environment variable, type (a ``Kind``:
one parser per type, whose errors name the variable), default and help.

``etl.settings`` declares the settings with ``setting(...)``; nothing here reads the
environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from etl.errors import SetupError

# The sections of the settings table: one README table each.
CORE = "core"
FETCH = "fetch"
ELASTICSEARCH = "elasticsearch"
AIRFLOW = "airflow"
SECTIONS = (CORE, FETCH, ELASTICSEARCH, AIRFLOW)


# --- one parser per type; each error names the variable --------------------------------------


class SettingsError(SetupError, ValueError):
    """A setting whose value cannot be used; the message names the variable and what it takes."""


def parse_number(raw: str, name: str, *, whole: bool = False, positive: bool = False) -> float:
    """A number (``whole``: an integer; ``positive``: above 0, which also refuses NaN)."""
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        pass
    else:
        if not positive or value > 0:
            return value
    what = "a whole number" if whole else "a number"
    raise SettingsError(f"{name} must be {what}{' above 0' if positive else ''}, got {raw!r}")


def parse_bool(raw: str, name: str) -> bool:
    if raw.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def parse_schedule(raw: str, name: str) -> str | None:
    """A DAG schedule: a cron expression or preset (``@hourly``); ``none``/``manual`` or empty
    for manual runs only."""
    text = raw.strip()
    return None if text.lower() in {"", "none", "manual", "null"} else text


@dataclass(frozen=True, slots=True)
class Kind:
    """A type of setting: how a variable's text is parsed, and what the docs call it."""

    label: str
    parse: Callable[[str, str], Any]  # (text, variable name) -> value
    # An empty variable means "unset" (the default), except where empty has its own meaning.
    empty_is_default: bool = True


TEXT = Kind("text", lambda raw, name: raw)
OPTIONAL_TEXT = Kind("text", lambda raw, name: raw or None)
CACHE_FOLDER = Kind(
    "folder or off", lambda raw, name: None if raw.strip().lower() in {"off", "none"} else raw
)
INTEGER = Kind("whole number", lambda raw, name: parse_number(raw, name, whole=True))
NUMBER = Kind("number", parse_number)
SECONDS = Kind("seconds", lambda raw, name: parse_number(raw, name, positive=True))
BOOLEAN = Kind("true/false", parse_bool)
# Comma- or space-separated values (URLs, networks: none contains either).
LIST = Kind("list", lambda raw, name: tuple(raw.replace(",", " ").split()))
# Folders may contain spaces: separated like PATH (":" on POSIX).
PATH_LIST = Kind(
    "folders", lambda raw, name: tuple(r.strip() for r in raw.split(os.pathsep) if r.strip())
)
SCHEDULE = Kind("schedule", parse_schedule, empty_is_default=False)


class Secret:
    """A password or API key: never shown by repr/str, so it cannot leak into logs or errors."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


SECRET = Kind("secret", lambda raw, name: Secret(raw))


@dataclass(frozen=True, slots=True)
class EnvSetting:
    """One row of the settings table: a ``Settings`` field read from an environment variable."""

    section: str
    env: str
    kind: Kind
    help: str
    name: str = ""  # the Settings field, filled in from the dataclass
    default: Any = None
    shown_default: str | None = None  # for the docs, when the default is computed or None
    option: str | None = None  # the command-line option that overrides it
    example: str | None = None  # its line in .env.example (docker compose passes it on)


# Where a Settings field keeps its row of the table (dataclasses.field metadata).
METADATA_KEY = "article_etl_setting"


def setting(
    section: str,
    env: str,
    kind: Kind,
    default: Any,
    help: str,
    *,
    shown_default: str | None = None,
    option: str | None = None,
    example: str | None = None,
) -> Any:
    """A ``Settings`` field read from ``env``; a callable ``default`` is a default factory."""
    row = EnvSetting(section, env, kind, help, "", None, shown_default, option, example)
    if callable(default):
        return field(default_factory=default, metadata={METADATA_KEY: row})
    return field(default=default, metadata={METADATA_KEY: row})
