"""Fetch benchmark: many loopback hosts, ~100 small pages each, through ``fetch_inputs``.

The sites run in a child process (so their work does not compete with the fetcher for the
GIL) on 127.0.0.1, 127.0.0.2, ... (one host each: the rate limit is per host name). Reports
pages/second and peak memory for a first run and for a conditional re-run (all 304s), then
prints a one-line JSON summary.

    python bench/bench_fetch.py                 # 20 hosts x 100 pages, 50 req/s per host
    python bench/bench_fetch.py --hosts 5 --pages 40 --rate 20
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl.settings import Settings  # noqa: E402
from etl.web.dispatch import fetch_inputs  # noqa: E402
from tests.sites import Reply, Site, article_route  # noqa: E402


def serve(hosts: int, pages: int, conn: Connection) -> None:
    """Child process: start the sites, send their origins, serve until told to stop."""
    sites = []
    for h in range(hosts):
        site = Site(f"127.0.0.{h + 1}")
        site.route("/robots.txt", Reply(200, b"User-agent: *\nDisallow: /private/\n"))
        for n in range(pages):
            site.route(f"/articles/{n}", article_route(n))
        sites.append(site.start())
    conn.send([s.origin for s in sites])
    conn.recv()  # any message: stop
    counts = [len(s.log) for s in sites]
    # In parallel: each shutdown waits up to serve_forever's 0.5 s poll interval.
    stoppers = [threading.Thread(target=s.stop) for s in sites]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join()
    conn.send(counts)


def run_once(
    urls: list[str], settings: Settings, cache: Path, known: dict[str, str] | None
) -> dict[str, object]:
    started = time.perf_counter()
    ok = not_modified = rejected = 0
    hashes: dict[str, str] = {}
    for raw in fetch_inputs(urls, settings, cache_location=cache, known_hashes=known):
        if raw.rejection:
            rejected += 1
        elif raw.not_modified:
            not_modified += 1
        else:
            ok += 1
            hashes[raw.key] = raw.raw_hash
    elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 2),
        "pages_per_s": round(len(urls) / elapsed, 1),
        "ok": ok,
        "not_modified": not_modified,
        "rejected": rejected,
        "_hashes": hashes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=20, help="loopback hosts (default 20)")
    parser.add_argument("--pages", type=int, default=100, help="pages per host (default 100)")
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s per host (50)")
    parser.add_argument("--concurrency", type=int, default=20, help="fetch threads (20)")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also report Python heap peak (slower)"
    )
    parser.add_argument("--no-rerun", action="store_true", help="skip the conditional re-run")
    args = parser.parse_args()
    if not 1 <= args.hosts <= 250:
        parser.error("--hosts must be 1..250 (127.0.0.1 .. 127.0.0.250)")

    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(args.hosts, args.pages, child), daemon=True)
    server.start()
    if not parent.poll(30):
        raise SystemExit("sites did not start")
    origins: list[str] = parent.recv()
    urls = [f"{o}/articles/{n}" for n in range(args.pages) for o in origins]
    settings = Settings(
        allowed_networks=("127.0.0.0/8",),
        fetch_rate_per_host=args.rate,
        fetch_concurrency=args.concurrency,
        fetch_connect_timeout=5.0,
        fetch_read_timeout=10.0,
    )
    if args.tracemalloc:
        tracemalloc.start()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "fetch_cache.db"
        first = run_once(urls, settings, cache, None)
        hashes = first.pop("_hashes")
        second = None
        if not args.no_rerun:
            second = run_once(urls, settings, cache, hashes)  # type: ignore[arg-type]
            second.pop("_hashes")
    parent.send("stop")
    served = parent.recv() if parent.poll(10) else []
    server.join(5)
    # Floor: robots.txt + `pages` requests per host, 1/rate apart, cannot take less than this.
    floor = args.pages / args.rate
    summary = {
        "hosts": args.hosts,
        "pages": len(urls),
        "rate_per_host": args.rate,
        "concurrency": args.concurrency,
        "politeness_floor_s": round(floor, 2),
        "first_run": first,
        "rerun_304": second,
        "requests_served": sum(served),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.tracemalloc:
        summary["python_heap_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    print(
        f"{len(urls)} pages from {args.hosts} hosts: {first['pages_per_s']} pages/s "
        f"({first['seconds']} s), re-run {second['pages_per_s'] if second else '-'} pages/s, "
        f"peak RSS {summary['peak_rss_mb']} MB",
        file=sys.stderr,
    )
    print(json.dumps(summary, separators=(",", ":")))
    return 0 if first["rejected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
