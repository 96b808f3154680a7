"""Help screens without Python type names: Typer shows ``<list[str]>``, ``<int>`` and ``<bool>``
beside options; these classes show each option's metavar instead (FILE, N, DATE...) and nothing
for flags. Use them as ``typer.Typer(cls=PlainHelpGroup)`` and ``@app.command(cls=
PlainHelpCommand)``."""

from __future__ import annotations

import inspect
import re
from typing import Any

from typer.core import TyperCommand, TyperGroup


def _plain_help(command: Any, ctx: Any) -> None:
    """Help shows each option's metavar (FILE, N, DATE...) instead of Typer's Python type names
    (``<list[str]>``, ``<int>``); flags and arguments show none (an argument's name is its
    metavar). Paragraphs of the docstring are joined into lines that wrap to the terminal."""
    if command.help:
        command.help = re.sub(r"(?<!\n)\n(?!\n)", " ", inspect.cleandoc(command.help))
    for param in command.get_params(ctx):
        label: str | None = None
        if param.param_type_name == "option" and not param.is_flag:
            label = param.metavar or (param.name or "value").upper()
        param.display_type_rich = lambda ctx, label=label: label


class PlainHelpCommand(TyperCommand):
    """A command whose --help shows metavars, not Python types (``@app.command(cls=...)``)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_help(self, ctx)
        super().format_help(ctx, formatter)


class PlainHelpGroup(TyperGroup):
    """A group whose --help shows metavars, not Python types (``typer.Typer(cls=...)``)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_help(self, ctx)
        super().format_help(ctx, formatter)
