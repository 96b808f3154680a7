"""Throughput benchmark of the article pipeline: extraction, enrichment, indexing, end-to-end.

Builds a corpus of ``--docs`` files by copying the example articles, each copy varied a little
(its canonical URL and one sentence of its text) so that every copy is a distinct document:
nothing is a duplicate and every document id differs. Then, in one run, it measures:

  extract-only    extract() over every input, one process
  enrich-only     enrich() (spaCy NER + dates) over the extracted articles, one process
  index-only      SqliteBackend.upsert() of the enriched articles into a fresh index
  extract+NER     process_stream() with the pipeline's worker count, results only consumed
  end-to-end      pipeline.ingest() of the corpus into a fresh index (ledger, duplicates, index)
  second run      pipeline.ingest() again: every input must come back unchanged
  5% changed      one input in twenty edited (one more sentence, same URL), then ingest again

and checks three targets: end-to-end >= 95% of extract+NER (the floor: extraction and spaCy
alone with the same workers), second run < 10% of the first, 5%-changed run <= 8% of the first.
Exit code 0 when the targets are met, 1 when one is missed, 2 when the benchmark itself is
wrong (a copy that is not a distinct document, an input not indexed).

    python bench/bench_pipeline.py --docs 520
    python bench/bench_pipeline.py --docs 520 --json > bench/results/latest.json
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import inspect
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from etl import pipeline
from etl.backends.sqlite.backend import SqliteBackend
from etl.enrich import enrich, load_nlp
from etl.extract import extract
from etl.outcomes import RunReport
from etl.process import ProcessOptions, process_stream
from etl.settings import Settings
from etl.sources import discover, read_inputs

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCES = (ROOT / "examples" / "articles", ROOT.parent / "shared" / "seeds")
E2E_TARGET = 0.95  # end-to-end rate / extract+NER rate, at least
RERUN_TARGET = 0.10  # second run time / first run time, below
CHANGED_SHARE = 0.05  # share of the inputs edited before the incremental run
CHANGED_TARGET = 0.08  # 5%-changed run time / first run time, at most
# The pipeline indexes what process_stream hands back, one batch at a time: index-only does too.
PIPELINE_BATCH = int(inspect.signature(process_stream).parameters["batch_size"].default)

_CANONICAL = re.compile(
    r"""<link\b[^>]*\brel=["']canonical["'][^>]*\bhref=["']([^"']+)["']"""
    r"""|<meta\b[^>]*\bproperty=["']og:url["'][^>]*\bcontent=["']([^"']+)["']""",
    re.I,
)
_PARAGRAPH = re.compile(r"<p(?:\s[^>]*)?>(.*?)</p>", re.I | re.S)


# --- corpus -----------------------------------------------------------------------------------


def base_files(sources: list[Path]) -> list[Path]:
    files = discover(sources)
    if not files:
        raise SystemExit(f"no article files under {', '.join(map(str, sources))}")
    return files


def vary(name: str, data: bytes, n: int, own_url: bool = True) -> bytes:
    """Copy number ``n`` of an article: one more sentence in its text and, for HTML, its own
    canonical URL (the document id follows the canonical URL when a page states one).
    ``own_url=False`` edits the text only: the same article, revised."""
    marker = f"Reference number {n}."
    lower = name.lower()
    if lower.endswith(".gz"):
        return gzip.compress(vary(name[:-3], gzip.decompress(data), n, own_url), mtime=0)
    if not lower.endswith((".html", ".htm", ".xhtml")):
        return data.rstrip() + f"\n\n{marker}\n".encode()
    page = data.decode("utf-8")
    for url in {u for m in _CANONICAL.finditer(page) for u in m.groups() if u} if own_url else ():
        slash = "/" if url.endswith("/") else ""
        page = page.replace(url, f"{url.rstrip('/')}-copy-{n}{slash}")
    # The longest paragraph is article text, not a cookie notice, caption or teaser.
    longest = max(_PARAGRAPH.finditer(page), key=lambda m: len(m.group(1)), default=None)
    if longest is None:
        raise SystemExit(f"{name}: no paragraph to vary")
    end = longest.end(1)
    return (page[:end] + f" {marker}" + page[end:]).encode("utf-8")


def build_corpus(sources: list[Path], target: Path, docs: int) -> list[Path]:
    bases = base_files(sources)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = []
    for n in range(docs):
        base = bases[n % len(bases)]
        path = target / f"{n:05d}-{base.name}"
        path.write_bytes(vary(base.name, base.read_bytes(), n))
        written.append(path)
    return written


# --- measuring --------------------------------------------------------------------------------


@dataclasses.dataclass
class Stage:
    name: str
    docs: int
    seconds: float
    cpu_main_s: float = 0.0  # CPU time of this process
    cpu_workers_s: float = 0.0  # CPU time of worker processes that ended during the stage
    note: str = ""

    @property
    def rate(self) -> float:
        return self.docs / self.seconds if self.seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {
            "docs": self.docs,
            "seconds": round(self.seconds, 3),
            "docs_per_s": round(self.rate, 2),
            "cpu_main_s": round(self.cpu_main_s, 2),
            "cpu_workers_s": round(self.cpu_workers_s, 2),
            "note": self.note,
        }


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed(name: str, docs: Callable[[Any], int], work: Callable[[], Any], note: str = "") -> Any:
    """Run ``work``; return (its result, the Stage)."""
    main0, kids0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    stage = Stage(
        name,
        docs(result),
        seconds,
        cpu_main_s=_cpu(resource.RUSAGE_SELF) - main0,
        cpu_workers_s=_cpu(resource.RUSAGE_CHILDREN) - kids0,
        note=note,
    )
    return result, stage


def peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


class WorkerPeak:
    """The largest peak RSS (``VmHWM``) of this process's worker processes, sampled while they
    run. ``RUSAGE_CHILDREN`` cannot tell it: a forked child starts with its parent's high-water
    mark, so it reports at least the parent's size at any fork. Needs psutil (else None)."""

    def __init__(self) -> None:
        self.mib: float | None = None
        self._pids: list[int] = []
        try:
            import psutil
        except ImportError:
            self._psutil = None
        else:
            self._psutil = psutil

    def sample(self) -> None:
        if self._psutil is None:
            return
        peaks = [p for p in map(_hwm_mib, self._pids) if p is not None]
        if len(peaks) < len(self._pids) or not self._pids:  # a worker ended or none known yet
            me = self._psutil.Process()
            self._pids = [c.pid for c in me.children(recursive=True)]
            peaks = [p for p in map(_hwm_mib, self._pids) if p is not None]
        if peaks:
            self.mib = max(self.mib or 0.0, *peaks)


def _hwm_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def cold_worker_start_s(model: str, cache_dir: str | None) -> dict[str, float]:
    """What a worker pays before its first document, in a fresh interpreter: loading spaCy and
    the model, then what its first document needs (the gazetteer, the language identifier),
    read from the disk cache ``cache_dir`` (built by this call when it is empty). Also warms
    the OS file cache for the timed stages, so that the first parallel stage does not pay for a
    cold disk."""
    code = (
        "import json, time\n"
        "from etl import disk_cache, language, places\n"
        "from etl.enrich import load_nlp\n"
        f"disk_cache.use_directory({cache_dir!r})\n"
        "places._index(); language._identifier(); language._iso639()\n"
        "places._index.cache_clear(); language._identifier.cache_clear()\n"
        "language._iso639.cache_clear()\n"
        "t = time.perf_counter(); load_nlp(" + repr(model) + "); m = time.perf_counter() - t\n"
        "places._index(); language._identifier(); language._iso639()\n"
        "print(json.dumps({'model': m, 'first_document': time.perf_counter() - t - m}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def warm_service_runs(
    settings: Settings, out: Path, corpus: Path, files: list[Path], workers: int
) -> tuple[Stage, Stage]:
    """A first run and a 5%-changed run (other files than the first changed run's) into a new
    index, both on the warm workers of ``article-etl workers``, started here as a user would."""
    socket = out / "workers.sock"
    command = [sys.executable, "-m", "etl", "workers", "--socket", str(socket), "--json"]
    command += ["--workers", str(workers)]
    service = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        for line in service.stdout:
            if json.loads(line).get("event") == "ready":
                break
        else:
            raise BenchError(f"article-etl workers ended with exit code {service.wait()}")
        warm = dataclasses.replace(
            settings, index=str(out / "index-warm.db"), worker_service=str(socket)
        )
        docs = len(files)
        report, first = timed(
            "first run, warm",
            lambda r: len(r.outcomes),
            lambda: pipeline.ingest([str(corpus)], warm),
            note=f"{workers} warm workers of `article-etl workers`, new index",
        )
        if report.counts.get("indexed") != docs:
            raise BenchError(
                f"first run on warm workers: expected {docs} indexed, got {report.counts}"
            )
        step = round(1 / CHANGED_SHARE)
        edited = files[step // 2 :: step]
        for n, path in enumerate(edited):
            path.write_bytes(vary(path.name, path.read_bytes(), 2 * docs + n, own_url=False))
        report, changed = timed(
            "5% changed, warm",
            lambda r: len(r.outcomes),
            lambda: pipeline.ingest([str(corpus)], warm),
            note=f"{len(edited)} of {docs} inputs edited, on the same warm workers",
        )
        if report.counts.get("indexed") != len(edited):
            raise BenchError(
                f"5%-changed run on warm workers: expected {len(edited)} indexed, "
                f"got {report.counts}"
            )
        return first, changed
    finally:
        service.terminate()
        service.wait(timeout=60)


# --- the run ----------------------------------------------------------------------------------


class BenchError(Exception):
    """The benchmark measured the wrong thing (exit code 2)."""


def run(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    workers = args.workers
    base = Settings.from_env()
    settings = dataclasses.replace(
        base, index=str(out / "index.db"), ledger=None, workers=workers, include=(), exclude=()
    )
    options = ProcessOptions.of(settings)
    corpus = out / "corpus"
    for stale in out.glob("*.db*"):
        stale.unlink()
    files = build_corpus([Path(s) for s in args.source], corpus, args.docs)
    docs = len(files)
    stages: dict[str, Stage] = {}
    cold = cold_worker_start_s(settings.spacy_model, settings.cache_dir)

    load_before = os.getloadavg()[0]
    worker_peak = WorkerPeak()

    # The parallel stages come first: process_stream forks its workers, and a worker forked
    # from a parent that already holds the spaCy model would not load it. In a real run the
    # parent never loads the model, so here neither does it until the one-process stages.
    def extract_plus_ner() -> int:
        count = 0
        raws = read_inputs(discover([corpus]), settings.max_input_bytes)
        for batch in process_stream(raws, options, workers=workers):
            count += sum(1 for p in batch if p.article is not None)
            worker_peak.sample()
        return count

    def first_ingest() -> RunReport:
        for stale in out.glob("index.db*"):
            stale.unlink()
        seen = 0

        def on_outcome(_: object) -> None:  # sample once a batch, as extract+NER does
            nonlocal seen
            seen += 1
            if seen % PIPELINE_BATCH == 0:
                worker_peak.sample()

        return pipeline.ingest([str(corpus)], settings, on_outcome=on_outcome)

    # Each repeat runs both parallel stages, in alternating order (A B, B A, ...) so that a
    # slow spell of the machine does not always fall on the same stage; the best of each counts.
    tries: dict[str, list[Stage]] = {"extract_plus_ner": [], "end_to_end": []}
    report1: RunReport | None = None
    for attempt in range(args.repeat):
        order = ["extract_plus_ner", "end_to_end"]
        for key in order if attempt % 2 == 0 else order[::-1]:
            if key == "extract_plus_ner":
                n_ok, stage = timed(
                    "extract+NER",
                    lambda n: n,
                    extract_plus_ner,
                    note=f"{workers} workers, read + extract + enrich, results dropped",
                )
                if n_ok != docs:
                    raise BenchError(f"extract+NER: {docs - n_ok} of {docs} inputs rejected")
            else:
                report1, stage = timed(
                    "end-to-end",
                    lambda r: len(r.outcomes),
                    first_ingest,
                    note=f"{workers} workers, + ledger, duplicate check, SQLite index",
                )
                counts = report1.counts
                if counts.get("indexed") != docs or len(report1.outcomes) != docs:
                    raise BenchError(f"first ingest: expected {docs} indexed, got {counts}")
            tries[key].append(stage)
    for key, runs in tries.items():
        stages[key] = min(runs, key=lambda s: s.seconds)
    assert report1 is not None
    counts1 = report1.counts
    last_first_run = tries["end_to_end"][-1]  # the run whose index and ledger the rerun finds

    report2, stages["second_run"] = timed(
        "second run",
        lambda r: len(r.outcomes),
        lambda: pipeline.ingest([str(corpus)], settings),
        note="every input unchanged",
    )
    counts2 = report2.counts
    if counts2.get("unchanged") != docs:
        raise BenchError(f"second ingest: expected {docs} unchanged, got {counts2}")

    # An incremental run: one input in twenty revised in place (same file, same URL).
    step = round(1 / CHANGED_SHARE)
    edited = files[::step]
    for n, path in enumerate(edited):
        path.write_bytes(vary(path.name, path.read_bytes(), docs + n, own_url=False))
    report3, stages["changed_run"] = timed(
        "5% changed",
        lambda r: len(r.outcomes),
        lambda: pipeline.ingest([str(corpus)], settings),
        note=f"{len(edited)} of {docs} inputs edited, the rest unchanged",
    )
    counts3 = report3.counts
    if counts3.get("indexed") != len(edited) or counts3.get("unchanged") != docs - len(edited):
        raise BenchError(
            f"5%-changed ingest: expected {len(edited)} indexed and the rest unchanged, "
            f"got {counts3}"
        )
    warm = warm_service_runs(settings, out, corpus, files, workers)
    stages["first_run_warm"], stages["changed_run_warm"] = warm
    main_peak_ingest = peak_mib(resource.RUSAGE_SELF)  # before this process loads the model
    backend = SqliteBackend(settings.index)
    try:
        indexed_docs = backend.count()
    finally:
        backend.close()
    if indexed_docs != docs:
        raise BenchError(f"index holds {indexed_docs} documents, expected {docs}")

    # One-process stages.
    raws = list(read_inputs(discover([corpus]), settings.max_input_bytes))
    articles, stages["extract"] = timed(
        "extraction",
        len,
        lambda: [extract(r, min_words=settings.min_words) for r in raws],
        note="1 process, trafilatura / text / markdown",
    )
    if len({a.content_hash for a in articles}) != docs or len({a.id for a in articles}) != docs:
        raise BenchError(
            "the corpus copies are not distinct documents (a content hash or document id repeats)"
        )

    start = time.perf_counter()
    nlp = load_nlp(settings.spacy_model)
    warm_load = time.perf_counter() - start
    _, stages["enrich"] = timed(
        "enrichment",
        len,
        lambda: enrich(articles, nlp, batch_size=settings.nlp_batch_size),
        note=f"1 process, nlp.pipe batch {settings.nlp_batch_size}, model load excluded",
    )

    def index_only() -> int:
        backend = SqliteBackend(out / "index-only.db")
        try:
            for i in range(0, len(articles), PIPELINE_BATCH):
                results = backend.upsert(articles[i : i + PIPELINE_BATCH])
                if not all(r.ok for r in results):
                    raise BenchError(f"index refused documents: {results}")
            return backend.count()
        finally:
            backend.close()

    _, stages["index"] = timed(
        "indexing",
        lambda n: n,
        index_only,
        note=f"1 process, SqliteBackend.upsert, batches of {PIPELINE_BATCH}",
    )

    warm_ratio = stages["changed_run_warm"].seconds / stages["first_run_warm"].seconds
    e2e_ratio = stages["end_to_end"].rate / stages["extract_plus_ner"].rate
    rerun_ratio = stages["second_run"].seconds / last_first_run.seconds
    changed_ratio = stages["changed_run"].seconds / last_first_run.seconds
    e2e_cpu = stages["end_to_end"].cpu_main_s + stages["end_to_end"].cpu_workers_s
    ref_cpu = stages["extract_plus_ner"].cpu_main_s + stages["extract_plus_ner"].cpu_workers_s
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": _cpu_model(),
        },
        "docs": docs,
        "workers": workers,
        "model": settings.spacy_model,
        "base_files": len(base_files([Path(s) for s in args.source])),
        "repeat": args.repeat,
        "stages": {k: v.as_dict() for k, v in stages.items()},
        "attempts_seconds": {k: [round(s.seconds, 3) for s in v] for k, v in tries.items()},
        "load_average_before": round(load_before, 2),
        "_stages": stages,
        "worker_start_s": {
            "model": round(cold["model"], 2),
            "first_document": round(cold["first_document"], 2),
        },
        "model_load_s": {
            "warm_in_parent": round(warm_load, 2),
        },
        "peak_memory_mib": {
            "main_during_ingest": round(main_peak_ingest, 1),
            "main": round(peak_mib(resource.RUSAGE_SELF), 1),
            "largest_worker": None if worker_peak.mib is None else round(worker_peak.mib, 1),
            # At least the parent's size at a fork (see WorkerPeak): an upper bound only.
            "rusage_children": round(peak_mib(resource.RUSAGE_CHILDREN), 1),
        },
        "first_run_counts": counts1,
        "second_run_counts": counts2,
        "changed_run_counts": counts3,
        "ratios": {
            "end_to_end_vs_extract_plus_ner": round(e2e_ratio, 3),
            "second_run_vs_first_run": round(rerun_ratio, 4),
            "changed_run_vs_first_run": round(changed_ratio, 4),
            "changed_run_vs_first_run_warm_workers": round(warm_ratio, 4),
            # Diagnostic, not a target: CPU seconds of extract+NER / of end-to-end. Unlike
            # wall time it does not move when other processes share the machine.
            "cpu_extract_plus_ner_vs_end_to_end": round(ref_cpu / e2e_cpu, 3),
            # Diagnostic: the least a changed run can cost with workers started for it, as a
            # share of the first run: one worker start (the workers start side by side) plus
            # the changed share of the first run's work.
            "changed_run_floor_vs_first_run": round(
                (cold["model"] + cold["first_document"]) / last_first_run.seconds
                + len(edited) / docs,
                4,
            ),
        },
        "targets": {
            "end_to_end_vs_extract_plus_ner": {
                "target": f">= {E2E_TARGET}",
                "met": e2e_ratio >= E2E_TARGET,
            },
            "second_run_vs_first_run": {
                "target": f"< {RERUN_TARGET}",
                "met": rerun_ratio < RERUN_TARGET,
            },
            "changed_run_vs_first_run": {
                "target": f"<= {CHANGED_TARGET}",
                "met": changed_ratio <= CHANGED_TARGET,
            },
            "changed_run_vs_first_run_warm_workers": {
                "target": f"<= {CHANGED_TARGET}",
                "met": warm_ratio <= CHANGED_TARGET,
            },
        },
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# --- output -----------------------------------------------------------------------------------


def render(result: dict[str, Any], console: Console) -> None:
    stages: dict[str, Stage] = result["_stages"]
    table = Table(
        title=f"article-etl pipeline: {result['docs']} documents, "
        f"{result['workers']} workers, {result['machine']['cpus']} CPUs"
    )
    for column, justify in (
        ("stage", "left"),
        ("docs", "right"),
        ("seconds", "right"),
        ("docs/s", "right"),
        ("CPU main s", "right"),
        ("CPU workers s", "right"),
        ("what", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for key in (
        "extract",
        "enrich",
        "index",
        "extract_plus_ner",
        "end_to_end",
        "second_run",
        "changed_run",
        "first_run_warm",
        "changed_run_warm",
    ):
        s = stages[key]
        table.add_row(
            s.name,
            str(s.docs),
            f"{s.seconds:.2f}",
            f"{s.rate:,.1f}",
            f"{s.cpu_main_s:.1f}",
            f"{s.cpu_workers_s:.1f}",
            s.note,
        )
    console.print(table)
    load, mem, ratios = result["model_load_s"], result["peak_memory_mib"], result["ratios"]
    start = result["worker_start_s"]
    console.print(
        f"worker start in a fresh process: spaCy and its model {start['model']:.2f} s, then "
        f"{start['first_document']:.2f} s for what the first document needs (from the disk "
        f"cache); the model loads in {load['warm_in_parent']:.2f} s in this one"
    )
    worker = "n/a (no psutil)" if mem["largest_worker"] is None else f"{mem['largest_worker']:.0f}"
    console.print(
        f"peak memory (max RSS): main process {mem['main_during_ingest']:.0f} MiB during the "
        f"parallel stages and ingest, {mem['main']:.0f} MiB overall (it holds the model and "
        "every article for the one-process stages), "
        f"largest worker {worker} MiB (x {result['workers']} workers)"
    )
    for key, label in (
        ("end_to_end_vs_extract_plus_ner", "end-to-end / extract+NER"),
        ("second_run_vs_first_run", "second run / first run"),
        ("changed_run_vs_first_run", "5%-changed run / first run (workers started per run)"),
        ("changed_run_vs_first_run_warm_workers", "5%-changed run / first run (warm workers)"),
    ):
        target = result["targets"][key]
        verdict = "[green]met[/]" if target["met"] else "[red]MISSED[/]"
        console.print(f"{label}: {ratios[key]:.3f} (target {target['target']}) {verdict}")
    console.print(
        f"5%-changed run floor: {ratios['changed_run_floor_vs_first_run']:.3f} (diagnostic: one "
        "worker start plus the changed share of the first run, over the first run)"
    )
    console.print(
        f"CPU seconds extract+NER / end-to-end: {ratios['cpu_extract_plus_ner_vs_end_to_end']:.3f}"
        " (diagnostic: the end-to-end rate the CPU cost alone allows, immune to other load)"
    )
    attempts = result["attempts_seconds"]
    if result["repeat"] > 1:
        console.print(
            "attempts (s): extract+NER "
            + ", ".join(f"{t:.1f}" for t in attempts["extract_plus_ner"])
            + "; end-to-end "
            + ", ".join(f"{t:.1f}" for t in attempts["end_to_end"])
        )
    cpus = result["machine"]["cpus"] or 1
    if result["load_average_before"] > 0.5 * cpus:
        console.print(
            f"[yellow]warning:[/] load average {result['load_average_before']:.1f} on {cpus} "
            "CPUs before the run: other processes share the machine and wall-clock rates are "
            "noisy (use --repeat 3)"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark extraction, enrichment, indexing and end-to-end ingest on a corpus "
        "of varied copies of the example articles."
    )
    parser.add_argument(
        "--docs",
        type=int,
        default=520,
        help="documents in the corpus (default: 520; the issue asks for >= 500)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=max(1, os.cpu_count() or 1),
        help="worker processes for the parallel stages (default: CPU count)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object on stdout (the table goes to stderr)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="work directory for the corpus and indexes, kept afterwards "
        "(default: a temporary directory, removed afterwards)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run extract+NER and end-to-end this many times each, interleaved, and keep the "
        "fastest of each (default: 1; use 3 on a busy machine)",
    )
    parser.add_argument(
        "--source",
        action="append",
        default=None,
        help="an article file or folder to copy from (repeatable; default: "
        "examples/articles and ../shared/seeds)",
    )
    args = parser.parse_args(argv)
    if args.docs < 1:
        parser.error("--docs must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    args.source = args.source or [str(p) for p in DEFAULT_SOURCES if p.exists()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=args.json)
    if not console.is_terminal:
        console = Console(stderr=args.json, width=120)  # a log or a pipe: do not wrap at 80
    with _workdir(args.out) as out:
        try:
            result = run(args, out)
        except BenchError as exc:
            console.print(f"[red]benchmark error:[/] {exc}")
            return 2
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}, indent=2))
    render(result, console)
    missed = [k for k, t in result["targets"].items() if not t["met"]]
    if args.docs < 500:
        console.print("note: fewer than 500 documents; the issue asks for at least 500")
    for key in missed:
        console.print(
            f"[red]target missed:[/] {key} = {result['ratios'][key]} "
            f"(target {result['targets'][key]['target']})"
        )
    return 1 if missed else 0


class _workdir:
    """``--out`` (kept) or a temporary directory (removed)."""

    def __init__(self, out: Path | None) -> None:
        self._out = out
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Path:
        if self._out is not None:
            self._out.mkdir(parents=True, exist_ok=True)
            return self._out.resolve()
        self._tmp = tempfile.TemporaryDirectory(prefix="article-etl-bench-")
        return Path(self._tmp.name)

    def __exit__(self, *_: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
