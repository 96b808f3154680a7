"""``article-etl es ...`` and ``article-etl kibana ...``: typer sub-apps mounted by etl/cli/app.py.

The one command line for the generated files of ``mappings/`` too: ``es template`` (the
index template) and ``kibana objects`` (the saved objects), each with ``--write`` / ``--check``.

Every command takes ``--index URL`` (overrides ARTICLE_ETL_INDEX) and ``--json``, and ends an
expected failure (unreachable cluster, refused credentials, missing aliases) with one line on
stderr and exit status 1 — never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from elasticsearch import Elasticsearch

from etl.backends.base import IndexError_
from etl.backends.elasticsearch import admin as es_admin
from etl.backends.elasticsearch import kibana
from etl.backends.elasticsearch.client import build_client, check_reachable
from etl.cli.help import PlainHelpCommand, PlainHelpGroup
from etl.settings import Settings, redact_url

T = TypeVar("T")

es_app = typer.Typer(
    help="Elasticsearch index: template, versioned indices (articles-v1, -v2...) behind the "
    "read alias and the write alias.",
    no_args_is_help=True,
    add_completion=False,
    cls=PlainHelpGroup,
)
kibana_app = typer.Typer(
    help="Kibana: import the data view, saved search and dashboard of mappings/kibana/.",
    no_args_is_help=True,
    add_completion=False,
    cls=PlainHelpGroup,
)

IndexOption = Annotated[
    str | None,
    typer.Option(
        "--index",
        metavar="URL",
        help="Elasticsearch URL, e.g. https://es.example:9200 (default: ARTICLE_ETL_INDEX).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
KibanaUrlOption = Annotated[
    str | None,
    typer.Option(
        "--kibana-url",
        metavar="URL",
        help="Kibana URL, e.g. https://kibana.example:5601 (default: ARTICLE_ETL_KIBANA_URL).",
    ),
]


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _quiet_client_logs() -> None:
    # Unless the user configured logging, the transport's retry warnings (with tracebacks)
    # would reach stderr through logging's last-resort handler; the one-line error says it all.
    if not logging.getLogger().hasHandlers():
        logging.getLogger("elastic_transport").setLevel(logging.ERROR)


@contextmanager
def _expected_errors() -> Iterator[None]:
    try:
        yield
    except (IndexError_, kibana.KibanaError, ValueError) as exc:
        _fail(str(exc))


def _settings(index: str | None, need_es: bool = True) -> Settings:
    with _expected_errors():
        settings = Settings.from_env().with_overrides(index=index)
    if need_es and not settings.uses_elasticsearch:
        _fail(
            f"the index is {settings.index!r}, not an Elasticsearch URL: set "
            "ARTICLE_ETL_INDEX=https://host:9200 or pass --index URL"
        )
    return settings


def _with_client(index: str | None, action: Callable[[Settings, Elasticsearch], T]) -> T:
    settings = _settings(index)
    _quiet_client_logs()
    with _expected_errors():
        client = build_client(settings)
        try:
            check_reachable(client, settings.index, settings.es_probe_timeout)
            return action(settings, client)
        finally:
            client.close()


def _emit(data: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in lines:
            typer.echo(line)


@es_app.command("setup", cls=PlainHelpCommand)
def setup_command(index: IndexOption = None, as_json: JsonOption = False) -> None:
    """Install the index template; create the first index and both aliases if missing.

    Safe to re-run: it updates the template and creates nothing that exists."""
    report = _with_client(index, es_admin.setup)
    lines = [*report.actions, f"{report.read_alias} and {report.write_alias} -> {report.index}"]
    _emit(report.as_dict(), as_json, lines)


@es_app.command("reindex", cls=PlainHelpCommand)
def reindex_command(index: IndexOption = None, as_json: JsonOption = False) -> None:
    """Copy the current index into a new version (current mappings), then move both aliases
    in one atomic request. Searches keep working; the old index is kept. Do not ingest while
    it runs."""
    report = _with_client(index, es_admin.reindex)
    lines = [
        f"copied {report.docs_copied} document(s) {report.source} -> {report.dest} "
        f"in {report.took_ms} ms",
        f"aliases now on {report.dest}; {report.source} kept (delete it when satisfied)",
    ]
    _emit(report.as_dict(), as_json, lines)


@es_app.command("status", cls=PlainHelpCommand)
def status_command(index: IndexOption = None, as_json: JsonOption = False) -> None:
    """Cluster health, the versioned indices with document counts, and the alias targets."""
    info = _with_client(index, es_admin.status)
    settings = _settings(index)
    info["url"] = redact_url(settings.index)
    lines = [
        f"cluster {info['cluster']} at {info['url']}: {info['health']}",
        f"template {info['template']}: {'installed' if info['template_installed'] else 'MISSING'}",
        *(f"index {i['index']}: {i['docs']} document(s)" for i in info["indices"]),
        *(f"alias {a} -> {', '.join(t) or '(none)'}" for a, t in info["aliases"].items()),
    ]
    _emit(info, as_json, lines)


WriteOption = Annotated[bool, typer.Option("--write", help="Regenerate the committed file.")]
CheckOption = Annotated[
    bool, typer.Option("--check", help="Exit 1 when the committed file is stale.")
]


@es_app.command("template", cls=PlainHelpCommand)
def template_command(write: WriteOption = False, check: CheckOption = False) -> None:
    """Print the index template generated from mappings/fields.json, --write it to
    mappings/index-template.json, or --check that file is current."""
    settings = _settings(None, need_es=False)
    if write:  # the committed file uses the default alias prefix
        typer.echo(f"wrote {es_admin.write_template_file(Settings())}")
        return
    if check:
        path = es_admin.template_path()
        if not es_admin.template_file_is_current(path):
            _fail(f"{path} is stale: run article-etl es template --write")
        typer.echo(f"{path} is up to date")
        return
    typer.echo(es_admin.render_template(settings), nl=False)


@kibana_app.command("setup", cls=PlainHelpCommand)
def kibana_setup_command(
    kibana_url: KibanaUrlOption = None, index: IndexOption = None, as_json: JsonOption = False
) -> None:
    """Import the saved objects (overwrite=true, so re-running updates them in place).

    Kibana is reached with the Elasticsearch credentials (API key or user/password)."""
    settings = _settings(index, need_es=False).with_overrides(kibana_url=kibana_url)
    if not settings.kibana_url:
        _fail("no Kibana URL: pass --kibana-url or set ARTICLE_ETL_KIBANA_URL")
    with _expected_errors():
        result = kibana.import_saved_objects(settings)
    lines = [f"imported {result['successCount']} saved object(s) into {result['kibana']}"]
    _emit(result, as_json, lines)


@kibana_app.command("objects", cls=PlainHelpCommand)
def kibana_objects_command(write: WriteOption = False, check: CheckOption = False) -> None:
    """Print the saved objects generated from mappings/fields.json, --write them to
    mappings/kibana/articles.ndjson, or --check that file is current."""
    if write:
        typer.echo(f"wrote {kibana.write_saved_objects_file()}")
        return
    if check:
        path = kibana.saved_objects_path()
        if not kibana.saved_objects_file_is_current():
            _fail(f"{path} is stale: run article-etl kibana objects --write")
        typer.echo(f"{path} is up to date")
        return
    typer.echo(kibana.render_ndjson(kibana.build_saved_objects()), nl=False)
