"""``article-etl workers``: worker processes kept warm (the model loaded) for ingest runs to
use (``ARTICLE_ETL_WORKER_SERVICE``), so that a run with little to do starts none."""

from __future__ import annotations

import json
import signal
import sys
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from etl.cli.options import load_settings
from etl.cli.output import console, fail


def workers(
    socket: Annotated[
        Path | None,
        typer.Option(
            "--socket",
            metavar="PATH",
            help="Unix socket to listen on (default: $ARTICLE_ETL_WORKER_SERVICE). Its key is "
            "written beside it, as PATH.key, readable by this user only.",
        ),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(
            "--workers", metavar="N", min=1, help="Worker processes (default: CPU count)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each event as a JSON line on stdout.")
    ] = False,
) -> None:
    """Keep worker processes with the spaCy model loaded, for ingest runs to use.

    Runs whose ARTICLE_ETL_WORKER_SERVICE is this socket send their inputs here instead of
    starting workers (about 0.8 s each, before any work); runs at the same time share its
    workers. A run that finds it not answering starts its own workers. Stop it with Ctrl-C or
    SIGTERM (exit 0).
    """
    from etl.enrich import check_model
    from etl.errors import SetupError
    from etl.process import ProcessOptions
    from etl.worker_service import WorkerService

    settings = load_settings(None, workers=count)
    address = socket or (Path(settings.worker_service) if settings.worker_service else None)
    if address is None:
        fail("no socket: pass --socket PATH or set ARTICLE_ETL_WORKER_SERVICE", code=2)
    address = address.expanduser().absolute()
    try:
        check_model(settings.spacy_model)
    except RuntimeError as exc:
        fail(str(exc))

    def say(event: str, message: str, **fields: Any) -> None:
        if as_json:
            line = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "event": event}
            sys.stdout.write(json.dumps({**line, "message": message, **fields}) + "\n")
            sys.stdout.flush()
        else:
            console.err.print(
                f"article-etl workers: {escape(message)}", highlight=False, soft_wrap=True
            )

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops it as Ctrl-C does
    service = WorkerService(
        address,
        ProcessOptions.of(settings),
        settings.workers,
        report=lambda message: say("run", message),
    )
    try:
        try:
            service.listen()
            say(
                "starting",
                f"starting {settings.workers} worker(s) with the model {settings.spacy_model}",
            )
            pids = service.warm_up()
        except SetupError as exc:
            fail(str(exc))
        except BrokenProcessPool:
            fail("the workers could not start (see the messages above)")
        say(
            "ready",
            f"{len(pids)} worker(s) ready on {address}: runs with "
            f"ARTICLE_ETL_WORKER_SERVICE={address} use them",
            socket=str(address),
            workers=pids,
        )
        service.serve_forever()
    except KeyboardInterrupt:
        say("stopped", "stopped")
    finally:
        service.close()
