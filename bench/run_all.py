"""Run the pipeline and the scale benchmarks and print every figure beside its target.

This is what ``make bench`` runs. Each benchmark runs in its own process (``--json``), as a user
would run it alone; with ``--runs 3`` each runs three times and every figure is reported as
min / median / max, and a target counts as met when the median meets it.

    python bench/run_all.py                  # one run of each, 100,000 documents for the scale
    python bench/run_all.py --runs 3 --json  # three runs, one JSON object on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SCALE_QUERIES = (
    "common_word_facets",
    "frequent_word_facets",
    "all_facets_histogram",
    "phrase",
    "filter_date_range",
    "deep_page",
)


@dataclass(frozen=True)
class Figure:
    """One reported number: where it is read from, its target, and how it is compared."""

    name: str
    unit: str
    read: Callable[[dict[str, Any]], float]
    target: float | None  # None: a diagnostic, shown to explain another figure
    at_most: bool  # True: the figure must be <= target; False: >= target
    strict: bool = False  # < or > instead

    def met(self, value: float) -> bool | None:
        if self.target is None:
            return None
        if self.at_most:
            return value < self.target if self.strict else value <= self.target
        return value > self.target if self.strict else value >= self.target

    def target_text(self) -> str:
        if self.target is None:
            return "diagnostic"
        sign = ("<" if self.at_most else ">") + ("" if self.strict else "=")
        return f"{sign} {self.target:g}{self.unit}"


PIPELINE_FIGURES = (
    Figure(
        "end-to-end / floor (extract+NER, same workers)",
        "",
        lambda r: r["ratios"]["end_to_end_vs_extract_plus_ner"],
        0.95,
        at_most=False,
    ),
    Figure(
        "5%-changed run / full run, warm workers",
        "",
        lambda r: r["ratios"]["changed_run_vs_first_run_warm_workers"],
        0.08,
        at_most=True,
    ),
    Figure(
        "5%-changed run / full run, workers per run",
        "",
        lambda r: r["ratios"]["changed_run_vs_first_run"],
        0.08,
        at_most=True,
    ),
    Figure(
        "  its floor: one worker start + 5% of full run",
        "",
        lambda r: r["ratios"]["changed_run_floor_vs_first_run"],
        None,
        at_most=True,
    ),
    Figure(
        "unchanged re-run / full run",
        "",
        lambda r: r["ratios"]["second_run_vs_first_run"],
        0.10,
        at_most=True,
        strict=True,
    ),
)


def _p95(query: str) -> Callable[[dict[str, Any]], float]:
    return lambda r: r["p95_ms"][query]


SCALE_FIGURES = (
    *(Figure(f"p95 {q}", " ms", _p95(q), 100.0, at_most=True) for q in SCALE_QUERIES),
    Figure(
        "indexing rate 90-100k / 0-10k",
        "",
        lambda r: r["index_rate_last"] / r["index_rate_first"],
        0.9,
        at_most=False,
    ),
    Figure("bytes per document", " B", lambda r: r["bytes_per_doc"], 12_000, at_most=True),
)


def run_json(script: str, args: Sequence[str]) -> dict[str, Any]:
    """One benchmark process; its exit code 1 (a missed target) still carries a report."""
    command = [sys.executable, str(BENCH / script), *args, "--json"]
    print(f"running: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{script} failed with exit code {done.returncode}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def summarise(figures: Sequence[Figure], reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for figure in figures:
        values = [float(figure.read(r)) for r in reports]
        median = statistics.median(values)
        rows.append(
            {
                "figure": figure.name,
                "min": round(min(values), 4),
                "median": round(median, 4),
                "max": round(max(values), 4),
                "target": figure.target_text(),
                "met": figure.met(median),
            }
        )
    return rows


def print_rows(title: str, rows: Sequence[dict[str, Any]], runs: int) -> None:
    print(f"\n{title}")
    head = "value" if runs == 1 else "min / median / max"
    print(f"  {'figure':48} {head:>26}   {'target':>12}   ")
    for row in rows:
        value = (
            f"{row['median']:g}"
            if runs == 1
            else f"{row['min']:g} / {row['median']:g} / {row['max']:g}"
        )
        verdict = {True: "met", False: "MISSED", None: ""}[row["met"]]
        print(f"  {row['figure']:48} {value:>26}   {row['target']:>12}   {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of each benchmark (default 1)")
    parser.add_argument("--docs", type=int, default=520, help="pipeline corpus size")
    parser.add_argument("--scale-docs", type=int, default=100_000, help="scale index size")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    pipeline = [run_json("bench_pipeline.py", ["--docs", str(args.docs)]) for _ in range(args.runs)]
    scale = [run_json("bench_scale.py", ["--docs", str(args.scale_docs)]) for _ in range(args.runs)]
    result = {
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "pipeline": summarise(PIPELINE_FIGURES, pipeline),
        "scale": summarise(SCALE_FIGURES, scale),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"\narticle-etl benchmarks on {result['cpus']} CPUs, {args.runs} run(s) each")
        print_rows(f"pipeline ({args.docs} documents)", result["pipeline"], args.runs)
        print_rows(f"embedded index at {args.scale_docs:,} documents", result["scale"], args.runs)
    rows = [row for part in ("pipeline", "scale") for row in result[part]]
    missed = [row["figure"] for row in rows if row["met"] is False]
    if missed:
        print("targets missed: " + "; ".join(missed), file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
