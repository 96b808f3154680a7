"""Throughput of the real ``ingest_files`` DAG on Celery workers: one worker against two, on one
ledger in PostgreSQL and one index (issue 16).

Starts a throwaway Airflow with the CeleryExecutor (``scripts/celery_stack.sh``: PostgreSQL and
Redis on free ports, both stopped at the end; two workers of concurrency 1, one process per
task), builds two corpora of ``--docs`` varied copies of the example articles
(``bench_pipeline.vary``: every copy a distinct document), and runs ``ingest_files`` over each
in batches of ``--batch-size``: the first corpus with both workers, the second once one worker
is stopped (after a small warm-up run, so that neither pays for first use). Measured per run:

  docs/s          inputs / the DAG run's wall time (first task queued to last task done);
                  also over the batches alone (first batch started to last batch done),
                  without the run's serial tasks (planning, listing, report)
  ledger share    seconds spent inside ``Ledger`` calls in every task of the run (connecting
                  included) / the summed run time of those tasks (``bench/celery_hook/``
                  times them inside the task processes)

Targets: two workers at least 1.5 times one (2 cores, shared with the servers and Airflow),
ledger share under 5% of the tasks' time. The index is Elasticsearch when ``--es`` (or
``ES_URL``) names a node (under an alias of its own, removed at the end), else the embedded
index. Exit 0 when the targets are met, 1 when one is missed, 2 when the benchmark is wrong
(an input not indexed, a run failed).

    python bench/bench_celery.py --docs 480 --batch-size 40 --es http://127.0.0.1:9200
    python bench/bench_celery.py --json > bench/results/celery.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench"), str(ROOT)]

from bench_pipeline import base_files, vary  # noqa: E402
from celery_stack import CeleryStack, Worker, stack_env, start_stack  # noqa: E402
from local_airflow import wait_for  # noqa: E402

HOOK = ROOT / "bench" / "celery_hook"
DEFAULT_SOURCES = [ROOT / "examples" / "articles", ROOT.parent / "shared" / "seeds"]
RATIO_TARGET = 1.5
LEDGER_SHARE_TARGET = 0.05


def build(sources: list[Path], target: Path, docs: int, first: int) -> list[Path]:
    """``docs`` varied copies numbered from ``first`` (so two corpora share no document)."""
    bases = base_files(sources)
    target.mkdir(parents=True)
    written = []
    for n in range(first, first + docs):
        base = bases[n % len(bases)]
        path = target / f"{n:05d}-{base.name}"
        path.write_bytes(vary(base.name, base.read_bytes(), n))
        written.append(path)
    return written


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def ledger_lines(log: Path, skip: int) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    lines = log.read_text(encoding="utf-8").splitlines()[skip:]
    return [json.loads(line) for line in lines if line.strip()]


def measure(
    stack: CeleryStack, name: str, folder: Path, docs: int, batch_size: int, log: Path
) -> dict[str, Any]:
    """One ``ingest_files`` run over ``folder``: its figures."""
    before = len(ledger_lines(log, 0))
    run = stack.run_dag("ingest_files", {"paths": [str(folder)], "batch_size": batch_size}, 1800)
    run_id = str(run["dag_run_id"])
    if run["state"] != "success":
        raise SystemExit(f"{name}: the run failed\n{stack.failure_summary('ingest_files', run_id)}")
    report = stack.api().xcom("ingest_files", run_id, "report")
    if report["counts"].get("indexed") != docs:
        raise SystemExit(f"{name}: {report['counts']} (expected {docs} indexed)")
    tis = stack.task_instances("ingest_files", run_id)
    tasks_s = sum(float(ti.get("duration") or 0) for ti in tis)
    batches = [ti for ti in tis if ti["task_id"] == "ingest_batch" and ti["map_index"] >= 0]
    # The hook appends a line when a task closes its ledger: give the last task a moment.
    time.sleep(1)
    ledgers = ledger_lines(log, before)
    ledger_s = sum(float(x["ledger_s"]) for x in ledgers)
    wall = seconds_between(str(run["start_date"]), str(run["end_date"]))
    # The batches alone, first start to last end: without the run's serial tasks (planning,
    # listing, the report), which no number of workers shortens.
    ingest_wall = seconds_between(
        min(str(ti["start_date"]) for ti in batches), max(str(ti["end_date"]) for ti in batches)
    )
    return {
        "run": name,
        "docs": docs,
        "batches": len(batches),
        "workers_used": sorted({str(ti["hostname"]) for ti in batches}),
        "wall_s": round(wall, 2),
        "docs_per_s": round(docs / wall, 3),
        "batches_wall_s": round(ingest_wall, 2),
        "batches_docs_per_s": round(docs / ingest_wall, 3),
        "tasks_s": round(tasks_s, 2),
        "ingest_batch_s": round(sum(float(ti.get("duration") or 0) for ti in batches), 2),
        "ledger_s": round(ledger_s, 3),
        "ledger_calls": sum(int(x["calls"]) for x in ledgers),
        "ledgers_opened": len(ledgers),
        "ledger_share": round(ledger_s / tasks_s, 4) if tasks_s else None,
    }


def stop_worker(worker: Worker) -> None:
    """A warm shutdown of an idle worker (TERM to its process group)."""
    os.killpg(worker.pid, signal.SIGTERM)
    wait_for(f"{worker.name} stopped", lambda: not worker.alive(), 60, every=0.5)


def drop_es_alias(url: str, alias: str) -> None:
    from elasticsearch import Elasticsearch

    from etl.settings import Settings
    from tests.es_live import drop_alias_family

    client = Elasticsearch(url)
    try:
        drop_alias_family(client, Settings(index=url, es_alias=alias))
    finally:
        client.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    sources = [s for s in args.source if s.exists()] or [ROOT / "examples" / "articles"]
    work = Path(args.out or tempfile.mkdtemp(prefix="bench-celery-"))
    if work.exists() and args.out:
        shutil.rmtree(work)
    inbox = work / "inbox"
    warmup = build(sources, inbox / "warmup", 4, 100_000)
    build(sources, inbox / "two", args.docs, 0)
    build(sources, inbox / "one", args.docs, args.docs)
    log = work / "ledger-calls.jsonl"
    alias = f"bench-celery-{uuid.uuid4().hex[:8]}"
    env = stack_env(
        work,
        inbox=inbox,
        index=args.es or str(work / "index.db"),
        workers=2,
        ARTICLE_ETL_ES_ALIAS=alias,
        ARTICLE_ETL_BENCH_LEDGER_LOG=str(log),
        PYTHONPATH=str(HOOK),
    )
    env["ARTICLE_ETL_LEDGER"] = (
        f"postgresql://article_etl@127.0.0.1:{env['PG_PORT']}/article_etl_ledger"
    )
    t0 = time.monotonic()
    stack = start_stack(env)
    try:
        print(f"stack up in {time.monotonic() - t0:.0f} s ({stack.url})", file=sys.stderr)
        measure(stack, "warm-up", inbox / "warmup", len(warmup), 2, log)
        two = measure(stack, "two workers", inbox / "two", args.docs, args.batch_size, log)
        print(json.dumps(two), file=sys.stderr)
        stop_worker(stack.workers["worker2"])
        one = measure(stack, "one worker", inbox / "one", args.docs, args.batch_size, log)
        print(json.dumps(one), file=sys.stderr)
    finally:
        stack.stop()
        if args.es:
            drop_es_alias(args.es, alias)
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)
    ratio = two["docs_per_s"] / one["docs_per_s"]
    batches_ratio = two["batches_docs_per_s"] / one["batches_docs_per_s"]
    share = max(float(one["ledger_share"] or 0), float(two["ledger_share"] or 0))
    return {
        "benchmark": "celery",
        "docs": args.docs,
        "batch_size": args.batch_size,
        "index": "elasticsearch" if args.es else "embedded",
        "ledger": "postgresql",
        "cpus": os.cpu_count(),
        "runs": [one, two],
        "ratio_two_to_one": round(ratio, 3),
        "ratio_target": RATIO_TARGET,
        "batches_ratio_two_to_one": round(batches_ratio, 3),
        "ledger_share_max": round(share, 4),
        "ledger_share_target": LEDGER_SHARE_TARGET,
        "ok": ratio >= RATIO_TARGET and share < LEDGER_SHARE_TARGET,
    }


def table(result: dict[str, Any]) -> str:
    one, two = result["runs"]
    rows = [
        f"ingest_files over {result['docs']} documents in batches of {result['batch_size']} "
        f"({result['index']} index, ledger in PostgreSQL, {result['cpus']} CPUs)",
        f"  one worker   {one['docs_per_s']:7.2f} docs/s  ({one['wall_s']:.1f} s, "
        f"{one['batches']} batches)",
        f"  two workers  {two['docs_per_s']:7.2f} docs/s  ({two['wall_s']:.1f} s, "
        f"{two['batches']} batches)",
        f"  two / one    {result['ratio_two_to_one']:7.2f}        target >= {RATIO_TARGET}",
        f"  the batches alone (first start to last end, without the run's serial tasks): "
        f"one {one['batches_docs_per_s']:.2f} docs/s, two {two['batches_docs_per_s']:.2f} "
        f"docs/s, ratio {result['batches_ratio_two_to_one']:.2f}",
    ]
    for r in (one, two):
        rows.append(
            f"  ledger share, {r['run']:<11} {100 * float(r['ledger_share']):5.2f}% "
            f"({r['ledger_s']:.2f} s in {r['ledger_calls']} calls over {r['tasks_s']:.1f} s "
            f"of tasks)  target < {100 * LEDGER_SHARE_TARGET:.0f}%"
        )
    return "\n".join(rows)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=480, help="documents per run (480)")
    parser.add_argument("--batch-size", type=int, default=40, help="inputs per task (40)")
    parser.add_argument(
        "--es", default=os.environ.get("ES_URL", ""), help="Elasticsearch URL (ES_URL)"
    )
    parser.add_argument("--out", help="work folder, kept (default: a temporary one, removed)")
    parser.add_argument("--source", type=Path, action="append", default=None)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    args.source = args.source or DEFAULT_SOURCES
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    result = run(args)
    print(table(result), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
