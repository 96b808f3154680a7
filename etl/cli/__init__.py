"""The ``article-etl`` command line: ``etl.cli.app`` is the typer app and its entry point
(``main``); each command lives in the module of its section (ingest, search, export, status),
sharing ``output`` (consoles, one-line errors) and ``options`` (--index, --json, the index).

Nothing is imported here: ``etl.cli.help`` serves the Elasticsearch commands too, which the app
mounts, and importing it must not build the app."""
