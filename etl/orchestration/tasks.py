"""What the Airflow tasks do. Each task in ``dags/`` is one call into this module.

Why here and not in the DAG files: the scheduler's DAG processor parses DAG files every few
seconds, so they must import nothing heavy. Everything expensive (spaCy, trafilatura, the
Elasticsearch client, the pipeline itself, even Airflow's exception classes) is imported inside
the functions below, i.e. only on the worker that runs the task. Everything returned from here
goes to XCom, so it is small and JSON-able: plans, file lists and ``RunReport.summary()``
counts, never article text.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from etl.orchestration import params as p
from etl.outcomes import (
    BATCH_HEADER,
    OUTCOME_KEYS,
    batch_rows,
    log_progress,
    outcome_table,
    skipped_line,
)
from etl.settings import Settings, redact_url

log = logging.getLogger(__name__)

# A plan is what the first task decided from the trigger's params: validated, with absolute
# paths, so that every later task (maybe on another worker) sees the same inputs.
Plan = dict[str, Any]
# A batch is the work of one mapped task instance: inputs (paths or URLs), feeds, sitemaps.
Batch = dict[str, list[str]]


def fail(message: str) -> NoReturn:
    """Fail the task without retries: retrying cannot fix bad input or configuration.

    The message is logged first, as one error line: Airflow then logs the exception with its
    traceback (mostly Airflow's own frames), which says nothing more to the person reading."""
    from airflow.sdk.exceptions import AirflowFailException

    log.error("%s", message)
    raise AirflowFailException(message)


def skip(message: str) -> NoReturn:
    from airflow.sdk.exceptions import AirflowSkipException

    raise AirflowSkipException(message)


def settings_for(index: str | None = None) -> Settings:
    """Settings for a task: environment, then the Airflow connection ``elasticsearch_default``
    when defined (the production index), then the trigger's ``index`` param when given
    (``None`` or blank: not given)."""
    from etl.backends.elasticsearch.airflow_connection import settings_from_airflow

    settings: Settings = settings_from_airflow(Settings.from_env())
    if index and index.strip():
        settings = settings.with_overrides(index=index.strip())
    return settings


def describe_index(settings: Settings) -> str:
    """The index for log lines, without any credentials a URL may carry."""
    if not settings.uses_elasticsearch:
        return f"embedded index {Path(settings.index).resolve()}"
    return f"Elasticsearch {redact_url(settings.index)}"


def _common_plan(params: Mapping[str, Any], problems: list[str]) -> Plan:
    batch_size = params.get("batch_size", p.DEFAULT_BATCH_SIZE)
    # The schema already enforces this at trigger time; checked again because scheduled runs
    # and `airflow dags test` conf reach the task through the same code path.
    if not isinstance(batch_size, int) or not p.MIN_BATCH_SIZE <= batch_size <= p.MAX_BATCH_SIZE:
        problems.append(
            f"batch_size must be a whole number from {p.MIN_BATCH_SIZE} to {p.MAX_BATCH_SIZE}, "
            f"got {batch_size!r}"
        )
    return {
        "index": str(params.get("index") or ""),
        "reprocess": bool(params.get("reprocess", False)),
        "dry_run": bool(params.get("dry_run", False)),
        "batch_size": batch_size,
    }


def _refuse(dag_id: str, problems: Sequence[str]) -> NoReturn:
    # One line, like Airflow's own "Invalid input for param ..." messages.
    fail(f"{dag_id}: invalid parameters: " + "; ".join(problems))


def _unknown_parameters(conf: Mapping[str, Any] | None, known: Sequence[str]) -> list[str]:
    """A problem line naming the trigger-time parameters this DAG does not know, if any."""
    unknown = p.unknown_keys(conf, known)
    if not unknown:
        return []
    return [f"unknown parameter(s) {', '.join(map(repr, unknown))}; expected: {', '.join(known)}"]


def plan_file_run(params: Mapping[str, Any], conf: Mapping[str, Any] | None = None) -> Plan:
    """Check the ``ingest_files`` params; the plan names absolute paths that exist."""
    problems: list[str] = []
    problems.extend(_unknown_parameters(conf, p.FILE_PARAM_KEYS))
    paths = [str(x) for x in params.get("paths") or []]
    inbox = not paths
    configured = Settings.from_env()
    if inbox:
        paths = [configured.inbox]
        if p.missing_paths(paths):
            problems.append(
                f"the inbox folder {paths[0]} does not exist: create or mount it, or set "
                "ARTICLE_ETL_INBOX"
            )
    elif outside := p.paths_outside(paths, roots := p.readable_roots(configured)):
        problems.append(
            f"{len(outside)} path(s) outside the folders this DAG may read "
            f"({', '.join(roots)}; set ARTICLE_ETL_INBOX or ARTICLE_ETL_PATH_ROOTS): "
            + ", ".join(outside)
        )
    elif missing := p.missing_paths(paths):
        problems.append(
            f"{len(missing)} path(s) do not exist on the worker (cwd {Path.cwd()}): "
            + ", ".join(missing)
        )
    plan = _common_plan(params, problems)
    if problems:
        _refuse("ingest_files", problems)
    plan["paths"] = [str(Path(x).expanduser().resolve()) for x in paths]
    plan["inbox"] = inbox
    return plan


def _settled(files: Sequence[str], seconds: int) -> tuple[list[str], list[str]]:
    """Split files into (ready, still being written): modified within ``seconds``."""
    if seconds <= 0:
        return list(files), []
    cutoff = time.time() - seconds
    ready: list[str] = []
    waiting: list[str] = []
    for f in files:
        try:
            (ready if Path(f).stat().st_mtime <= cutoff else waiting).append(f)
        except OSError:
            ready.append(f)  # gone or unreadable: the pipeline records the rejection
    return ready, waiting


def file_batches(plan: Plan) -> tuple[list[Batch], int]:
    """New and changed files under the plan's paths (all files with ``reprocess``), in batches,
    and how many files were left out because their bytes are the ones last processed (the
    report counts them as ``unchanged``).

    Cheap: the ledger compares content hashes, nothing is parsed. An empty list makes the
    mapped ingest task expand to nothing, so a quiet inbox costs a few seconds per run."""
    from etl.inputs import changed_files
    from etl.sources import discover

    settings = settings_for(plan["index"])
    where = ", ".join(plan["paths"])
    files = [str(f) for f in discover(plan["paths"], settings.include, settings.exclude)]
    unchanged = 0
    if not plan["reprocess"]:
        changed = list(changed_files(plan["paths"], settings))
        unchanged = len(set(files) - set(changed))
        files = changed
    if plan.get("inbox"):
        settle = settings.inbox_settle_seconds
        files, waiting = _settled(files, settle)
        if waiting:
            log.info(
                "%d file(s) modified in the last %d s are left for the next run: %s",
                len(waiting),
                settle,
                ", ".join(waiting[:10]),
            )
    if not files:
        log.info("nothing new in %s (%d unchanged file(s))", where, unchanged)
        return [], unchanged
    batches = p.split_batches(files, plan["batch_size"])
    log.info(
        "%d new or changed file(s) in %s -> %d batch(es) of up to %d, into %s",
        len(files),
        where,
        len(batches),
        len(batches[0]),
        describe_index(settings),
    )
    return [{"inputs": b} for b in batches], unchanged


def plan_url_run(params: Mapping[str, Any], conf: Mapping[str, Any] | None = None) -> Plan:
    """Check the ``ingest_urls`` params; the plan holds the URLs (list file already read)."""
    problems: list[str] = []
    problems.extend(_unknown_parameters(conf, p.URL_PARAM_KEYS))
    urls = [str(u).strip() for u in params.get("urls") or []]
    feeds = [str(u).strip() for u in params.get("feeds") or []]
    sitemaps = [str(u).strip() for u in params.get("sitemaps") or []]
    for name, values in (("urls", urls), ("feeds", feeds), ("sitemaps", sitemaps)):
        if bad := p.bad_urls(values):
            problems.append(f"{name}: not http(s) URLs: " + ", ".join(map(repr, bad[:10])))
    url_list = str(params.get("url_list") or "").strip()
    if url_list:
        try:
            listed = p.read_url_list(url_list)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"cannot read the URL list {url_list}: {exc}")
        else:
            if bad := p.bad_urls(listed):
                problems.append(
                    f"{url_list} has {len(bad)} line(s) that are not http(s) URLs: "
                    + ", ".join(map(repr, bad[:10]))
                )
            urls += listed
    if not (urls or feeds or sitemaps) and not problems:
        problems.append(
            "nothing to ingest: give urls, url_list, feeds or sitemaps "
            "(or set ARTICLE_ETL_URL_LIST, ARTICLE_ETL_FEEDS, ARTICLE_ETL_SITEMAPS)"
        )
    plan = _common_plan(params, problems)
    if problems:
        _refuse("ingest_urls", problems)
    plan["urls"] = list(dict.fromkeys(urls))  # without repeats, in order
    plan["feeds"] = list(dict.fromkeys(feeds))
    plan["sitemaps"] = list(dict.fromkeys(sitemaps))
    return plan


def url_batches(plan: Plan) -> list[Batch]:
    """URL batches of ``batch_size``, and feeds and sitemaps in batches of their own: each
    expands to many pages only when fetched, so one per task spreads that work out."""
    batches: list[Batch] = [
        {"inputs": b} for b in p.split_batches(plan["urls"], plan["batch_size"])
    ]
    # Feeds/sitemaps get what is left of Airflow's cap on mapped task instances.
    room = max(1, p.MAX_BATCHES - len(batches))
    for key in ("feeds", "sitemaps"):
        batches += [{key: b} for b in p.split_batches(plan[key], 1, room)]
    log.info(
        "%d URL(s), %d feed(s), %d sitemap(s) -> %d batch(es)",
        len(plan["urls"]),
        len(plan["feeds"]),
        len(plan["sitemaps"]),
        len(batches),
    )
    return batches


def batch_label(batch: Batch) -> str:
    """How a mapped task instance is named in the Airflow UI (``map_index_template``)."""
    parts = []
    if inputs := batch.get("inputs"):
        first = inputs[0].rstrip("/").rsplit("/", 1)[-1]
        parts.append(f"{len(inputs)} input(s) from {first}")
    if feeds := batch.get("feeds"):
        parts.append(f"feed {feeds[0]}" if len(feeds) == 1 else f"{len(feeds)} feeds")
    if sitemaps := batch.get("sitemaps"):
        parts.append(
            f"sitemap {sitemaps[0]}" if len(sitemaps) == 1 else f"{len(sitemaps)} sitemaps"
        )
    return "; ".join(parts) or "empty batch"


def _jsonable(value: Any) -> Any:
    # XCom needs JSON; a stray datetime or Path in a summary must not fail the task.
    return json.loads(json.dumps(value, default=str))


def _common_folder(inputs: Sequence[str]) -> str | None:
    """The folder the batch's files share (the inbox, usually): log tables show paths below it."""
    files = [p for p in inputs if "://" not in p and os.path.isabs(p)]
    if not files:
        return None
    return os.path.commonpath([os.path.dirname(p) for p in files]) or None


def ingest_batch(batch: Batch, plan: Plan) -> dict[str, Any]:
    """Extract, enrich and index one batch; the batch's outcome counts go to XCom.

    A ``TransientError`` (the index unreachable) propagates so that Airflow retries the task
    with backoff; the inputs stay pending in the ledger. A ``SetupError`` (a missing or
    misconfigured index) cannot be fixed by retrying, so it fails the task at once with the
    way out."""
    from etl.errors import SetupError
    from etl.pipeline import ingest

    settings = settings_for(plan["index"])
    inputs = batch.get("inputs", [])
    log.info(
        "ingesting %s into %s%s",
        batch_label(batch),
        describe_index(settings),
        " (dry run: nothing is written)" if plan["dry_run"] else "",
    )
    started = time.monotonic()
    try:
        report = ingest(
            inputs,
            settings,
            reprocess=plan["reprocess"],
            dry_run=plan["dry_run"],
            feeds=batch.get("feeds", ()),
            sitemaps=batch.get("sitemaps", ()),
            on_outcome=log_progress(log),
        )
    except SetupError as exc:
        hint = " (run `article-etl es setup`)" if settings.uses_elasticsearch else ""
        fail(f"the index is not ready: {exc}{hint}")
    log.info(
        "outcomes of run %s (%.1f s):\n%s",
        report.run_id,
        time.monotonic() - started,
        report.table(root=_common_folder(inputs)),
    )
    summary: dict[str, Any] = _jsonable(report.summary())
    return summary


def summarize(
    summaries: Iterable[Mapping[str, Any]] | None, plan: Plan, listed_unchanged: int | None = 0
) -> dict[str, Any]:
    """Sum the batches' counts and log the run's outcome table. Returns the totals.

    ``listed_unchanged``: files ``file_batches`` left out because they are unchanged; they
    count as ``unchanged`` inputs, so a run over a quiet inbox reports every file unchanged."""
    # A mapped task's results arrive as a lazy sequence; one slice is one request, where
    # iterating would ask for items one by one and log an error for the one past the end.
    batches = list(summaries[:]) if isinstance(summaries, Sequence) else list(summaries or [])
    listed_unchanged = int(listed_unchanged or 0)
    totals = {k: 0 for k in OUTCOME_KEYS}
    totals["unchanged"] = listed_unchanged
    skipped: Counter[str] = Counter()
    for s in batches:
        for key, n in (s.get("counts") or {}).items():
            totals[key] = totals.get(key, 0) + int(n)
        skipped.update({why: int(n) for why, n in (s.get("skipped") or {}).items()})
    if not batches and not listed_unchanged:
        log.info("nothing to do: no inputs")
    else:
        log.info(
            "outcomes of %d batch(es)%s%s:\n%s",
            len(batches),
            f" and {listed_unchanged} file(s) unchanged since last processed"
            if listed_unchanged
            else "",
            " (dry run)" if plan.get("dry_run") else "",
            outcome_table(
                BATCH_HEADER,
                batch_rows(batches, listed_unchanged),
                total=["total", "", "", *(str(totals[k]) for k in OUTCOME_KEYS)],
                numbers_from=3,
            ),
        )
    if skipped:
        log.info("%s", skipped_line(skipped))
    return {
        "batches": len(batches),
        "counts": totals,
        "statuses": sorted({str(s.get("status", "")) for s in batches}),
        "run_ids": [str(s.get("run_id", "")) for s in batches],
        "listed_unchanged": listed_unchanged,
        "skipped": dict(sorted(skipped.items())),
        "dry_run": bool(plan.get("dry_run")),
    }


def announce_index_update(totals: Mapping[str, Any], outlet_events: Any, asset: Any) -> None:
    """Emit the index asset event only when documents were indexed.

    An Airflow task with ``outlets`` records an asset event whenever it succeeds, so "nothing
    changed" is expressed by skipping the task: DAGs scheduled on the index then do not run
    for a quiet inbox."""
    indexed = int(totals.get("counts", {}).get("indexed", 0))
    if totals.get("dry_run") or indexed == 0:
        skip("no documents were indexed: no index update event")
    outlet_events[asset].extra = {"indexed": indexed, "runs": list(totals.get("run_ids", []))[:50]}
    log.info("index updated: %d document(s) indexed", indexed)


def reindex(params: Mapping[str, Any]) -> dict[str, Any]:
    """Copy the Elasticsearch index into a new version with the current mappings and move the
    aliases (``etl.backends.elasticsearch.admin.reindex``). Returns its report (index names,
    documents copied)."""
    settings = settings_for(str(params.get("index") or ""))
    if not settings.uses_elasticsearch:
        fail(
            "reindex_articles works on Elasticsearch only, and the index here is the "
            f"{describe_index(settings)}. Define the Airflow connection elasticsearch_default "
            "(or trigger with index=https://...). To rebuild the embedded index, trigger "
            "ingest_files with reprocess=true instead."
        )
    from etl.backends.base import IndexError_
    from etl.backends.elasticsearch.admin import reindex as es_reindex
    from etl.errors import TransientError

    log.info("reindexing %s", describe_index(settings))
    try:
        report = es_reindex(settings)  # makes (and closes) its own client
    except TransientError:
        raise  # the cluster is unreachable or overloaded: Airflow retries with backoff
    except IndexError_ as exc:
        fail(f"reindex failed: {exc}")  # missing alias, rejected documents: retrying won't help
    result: dict[str, Any] = _jsonable(report.as_dict())
    log.info("reindex done: %s", json.dumps(result, sort_keys=True))
    return result
