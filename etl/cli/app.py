"""The ``article-etl`` command: ingest, search, show, extract, export, status, stats, workers
(and ``es``, ``kibana``). Exit codes: 0 ok, 1 the work failed (index unreachable...), 2 bad
usage or input.

Every error is one line on stderr (``error: ...``) and an exit code, never a traceback, and
never a password: URLs in messages lose their ``user:password@``. The commands live in the
modules beside this one; this one makes the app of them and turns failures into exit codes."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from etl.cli import export, ingest, search, status, workers
from etl.cli.help import PlainHelpCommand, PlainHelpGroup
from etl.cli.output import console, error_line
from etl.settings import debug_requested

try:  # typer >= 0.2x carries its own click: its usage errors derive from TyperException
    from typer import TyperException as _ClickError
except ImportError:  # pragma: no cover - older typer on click
    from click import ClickException as _ClickError  # type: ignore[assignment]


class _Group(PlainHelpGroup):
    """The top-level command: runs a subcommand and turns whatever goes wrong into one line on
    stderr and an exit code (2 for usage errors, as click; 1 for the rest)."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        # Fresh consoles for each run: they read COLUMNS and whether stdout is a terminal now.
        console.reset()
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except _ClickError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                # Typer's rich help has printed itself already; plain click's has not.
                if exc.format_message().strip():
                    typer.echo(exc.format_message())
            else:
                error_line(exc.format_message().rstrip(".") + _help_hint(exc))
            code = exc.exit_code
        except typer.Abort:
            error_line("aborted")
            code = 1
        except Exception as exc:
            if debug_requested():
                raise
            error_line(
                f"unexpected {type(exc).__name__}: {exc} (ARTICLE_ETL_DEBUG=1 shows the traceback)"
            )
            code = 1
        sys.exit(code if isinstance(code, int) else 0)


def _help_hint(exc: Exception) -> str:
    path = getattr(getattr(exc, "ctx", None), "command_path", None)
    return f" (see {path} --help)" if path else ""


app = typer.Typer(
    cls=_Group,
    help="Turn article files and web pages into a searchable, faceted index.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("article-etl")
    except PackageNotFoundError:
        from etl import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"article-etl {_version()}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Turn article files and web pages into a searchable, faceted index."""


def _add_commands() -> None:
    for command in (  # in this order in --help
        ingest.ingest,
        search.search,
        search.show,
        export.extract,
        export.export,
        status.status,
        status.stats,
        workers.workers,
    ):
        app.command(cls=PlainHelpCommand)(command)


def _mount_subcommands() -> None:
    # Imported here, not at the top: etl.backends.elasticsearch.cli uses etl.cli.help, and the
    # package must be importable before the app mounts it.
    from etl.backends.elasticsearch.cli import es_app, kibana_app

    app.add_typer(es_app, name="es", help="Elasticsearch: setup, reindex, status.")
    app.add_typer(kibana_app, name="kibana", help="Kibana: import saved objects.")


_add_commands()
_mount_subcommands()


def main() -> None:
    app()
