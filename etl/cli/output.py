"""What every command prints with: the stdout and stderr consoles, one-line errors (never a
password: URLs lose their ``user:password@``), JSON for scripts, inputs' paths as shown."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape


class Consoles:
    """stdout (``out``) and stderr (``err``), made anew for each run (``reset``): a console
    reads COLUMNS and whether its stream is a terminal when it is made."""

    out: Console
    err: Console

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.out = Console()
        self.err = Console(stderr=True)


console = Consoles()

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#]*@")


def redact(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it removed. Works on URLs that do not
    parse (``settings.redact_url`` needs a valid port), which is when they end up in errors."""
    return _USERINFO.sub(r"\1", text)


def error_line(message: str) -> None:
    # One line: an error in a log must be greppable; soft_wrap: never hard-wrapped either.
    line = " ".join(redact(message).split())
    console.err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    error_line(message)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def shown_path(source: str) -> str:
    """Inputs under the current folder as relative paths: shorter tables, same meaning."""
    if "://" in source:
        return redact(source)
    try:
        return str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        return source
