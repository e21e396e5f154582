"""`make bench`: ingestion, the full build and each insight, beside DuckDB and ClickHouse floors.

Every figure is the median of --runs runs after a warm-up; paw and its floor or peer run
alternately in the same invocation, each in a fresh process. Writes docs/benchmarks.md and
data/bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from bench.datasets import (
    DEFAULT_SIZES,
    LAKE_BYTES_PER_EVENT,
    SIZES,
    SPILL_BYTES,
    WAREHOUSE_BYTES_PER_EVENT,
    Dataset,
    dataset_marker,
    ensure_dataset,
    require_free_disk,
)
from bench.incremental import bench_incremental
from bench.measure import Figure, rate, ratio, run_step, settle_disk
from bench.report import write_report
from bench.results import compare, insight_seconds, paw_insights
from bench.steps import clean_copies_marker, clean_ndjson_copies
from paw.settings import project_root

log = logging.getLogger("paw.bench")

ANALYST_QUERIES = {
    "funnel by week": """
        select date_trunc('week', entered_at) as week, funnel_name,
               count(*) as entered, count(*) filter (where converted) as converted
        from marts.fct_funnel_progress group by all order by all
    """,
    "D7 retention by cohort": """
        select cohort_start, retention_rate from marts.agg_retention
        where cohort_grain = 'day' and period_number = 7 order by cohort_start
    """,
    "top events by namespace": """
        select namespace, event_name, sum(events) as events from marts.agg_daily_event_counts
        group by all order by events desc limit 20
    """,
    "RFM segment sizes": """
        select rfm_segment, count(*) as persons, avg(monetary) as avg_monetary
        from marts.fct_rfm group by all order by persons desc
    """,
    "a person's timeline": """
        select event_timestamp, event_name, page_path, session_id from marts.fct_events
        where person_id = (select person_id from marts.fct_rfm order by frequency desc limit 1)
        order by event_timestamp
    """,
}


def _alternate(
    steps: list[tuple[str, str, dict]],
    runs: int,
    warmed_up: tuple[str, ...] = (),
    warm_up: bool = True,
    skip_runs: dict[str, int] | None = None,
) -> dict[str, Figure]:
    """Warm each step up once (unless already done), then run them in turn `runs` times (less
    `skip_runs` of a step whose samples the caller already has)."""
    figures = {label: Figure(label, []) for label, _, _ in steps}
    for label, step, args in steps:
        if not warm_up or label in warmed_up:
            continue
        log.info("warm-up: %s", label)
        run_step(step, args)
    for run in range(runs):
        for label, step, args in steps:
            if run < (skip_runs or {}).get(label, 0):
                continue
            sample = run_step(step, args)
            figures[label].samples.append(sample)
            log.info(
                "run %d/%d %s: %.2fs, %.0f MB",
                run + 1,
                runs,
                label,
                sample.seconds,
                sample.peak_rss_mb,
            )
    return figures


def _query_latency(warehouse: Path, runs: int) -> dict[str, float]:
    con = duckdb.connect(str(warehouse), read_only=True)
    out = {}
    for name, sql in ANALYST_QUERIES.items():
        con.execute(sql).fetchall()  # warm-up
        times = []
        for _ in range(max(runs, 5)):
            start = time.perf_counter()
            con.execute(sql).fetchall()
            times.append(time.perf_counter() - start)
        out[name] = statistics.median(times)
    con.close()
    return out


def bench_paw_only(dataset: Dataset, work: Path) -> dict:
    """A size too large for this machine's disk to hold the floors' copies and a second full
    build: paw alone, once. Its ingestion and full build are those of the base (every day
    before the new one), its nightly adds the new day; the marts' equality with a full build
    is proven at the smaller sizes."""
    shutil.rmtree(work, ignore_errors=True)
    require_free_disk(
        work,
        dataset.events * (LAKE_BYTES_PER_EVENT + WAREHOUSE_BYTES_PER_EVENT) + SPILL_BYTES,
        f"the {dataset.size} bench (its lake, one warehouse and DuckDB's spill)",
    )
    done: dict = {}
    result = {
        "size": dataset.size,
        "paw_only": True,
        "landing_gzip_share": SIZES[dataset.size].gzip_share,
        "events": dataset.events,
        "landing_files": dataset.files,
    }
    try:
        incremental = bench_incremental(dataset, work, None, runs=1, move_base=True, done=done)
    except RuntimeError as error:
        # an hour's figures are worth reporting with the step that failed: the report says so
        log.error("%s did not finish: %s", dataset.size, error)
        incremental = None
        result["failed"] = str(error)[-1500:]
    if "base_ingestion" in done:
        base_ingestion = done["base_ingestion"]
        events = base_ingestion["extra"]["events_read"]
        result["ingestion"] = {
            "paw": base_ingestion,
            "events": events,
            "paw_events_per_second": rate(events, base_ingestion["median_seconds"]),
        }
    if "base_build" in done:
        base_build = done["base_build"]
        result["build"] = {
            "paw": base_build,
            "model_seconds": dict(
                sorted(base_build["extra"]["model_seconds"].items(), key=lambda kv: -kv[1])
            ),
        }
    if incremental:
        result["incremental"] = incremental
        result["query_seconds"] = _query_latency(Path(incremental["warehouse"]), 1)
    return result


def prepare_inputs(
    size: str, base: Path, work: Path, settle: Callable[[str], None] = settle_disk
) -> tuple[Dataset, Path | None]:
    """The size's dataset and the pyarrow floor's copies of it (None for a size measured for
    paw alone), written now if they are not on disk yet, and then left to settle."""
    written = []
    if not dataset_marker(size, base).exists():
        written.append(f"the {size} dataset")
    dataset = ensure_dataset(size, base)
    floor_input = None
    if not SIZES[size].paw_only:
        floor_input = work / "floor-input"
        if not clean_copies_marker(floor_input).exists():
            written.append("the pyarrow floor's copies")
        clean_ndjson_copies(dataset.landing, floor_input)
    if written:
        settle(" and ".join(written))
    return dataset, floor_input


def bench_size(size: str, base: Path, runs: int, warm_up: bool) -> dict:
    work = base / size / "work"
    dataset, floor_input = prepare_inputs(size, base, work)
    if floor_input is None:
        return bench_paw_only(dataset, work)
    lake, warehouse = work / "lake", work / "warehouse.duckdb"
    dbt_project = project_root() / "dbt_project"

    ingestion = _alternate(
        [
            ("paw ingest", "paw_ingest", {"landing": str(dataset.landing), "lake": str(lake)}),
            (
                "duckdb read_json → parquet",
                "duckdb_read_json",
                {"landing": str(dataset.landing), "out": str(work / "floor")},
            ),
            (
                "pyarrow ndjson → parquet",
                "pyarrow_ndjson",
                {
                    "clean": str(floor_input),
                    "out": str(work / "pyarrow-floor"),
                },
            ),
        ],
        runs,
        warm_up=warm_up,
    )
    events = ingestion["paw ingest"].samples[-1].extra["events_read"]

    build_args = {
        "lake": str(lake),
        "warehouse": str(warehouse),
        "target": str(work / "dbt-target"),
    }
    log.info("first dbt build (its warehouse gives the peer paw's persons)")
    first_build = run_step("dbt_build", build_args)
    person_map = work / "person_map.parquet"
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute(f"copy (select event_id, person_id from marts.fct_events) to '{person_map}'")
    con.close()
    peer_inputs = {
        "lake": str(lake),
        "person_map": str(person_map),
        "funnels_csv": str(dbt_project / "seeds" / "funnels.csv"),
        "funnel_steps_csv": str(dbt_project / "seeds" / "funnel_steps.csv"),
        "funnel_exclusions_csv": str(dbt_project / "seeds" / "funnel_exclusions.csv"),
    }
    build = _alternate(
        [
            ("dbt build", "dbt_build", build_args),
            ("duckdb lake scan", "lake_scan", {"lake": str(lake)}),
            ("chdb insights", "chdb_insights", {"inputs": peer_inputs}),
        ],
        runs,
        warmed_up=("dbt build",),
        warm_up=warm_up,
        # without warm-ups the first build is a sample too: the large sizes build once
        skip_runs={} if warm_up else {"dbt build": 1},
    )
    if not warm_up:
        build["dbt build"].samples.insert(0, first_build)

    mine = paw_insights(str(warehouse))
    peer = build["chdb insights"].samples[-1].extra["results"]
    mismatches = compare(mine, peer)

    paw_insight_runs = [
        insight_seconds(s.extra["model_seconds"]) for s in build["dbt build"].samples
    ]
    peer_insight_runs = [s.extra["timings"] for s in build["chdb insights"].samples]
    insights = {}
    for name in ("sessions", "funnel", "weekly_retention"):
        paw_s = statistics.median(r[name] for r in paw_insight_runs)
        peer_s = statistics.median(r[name] for r in peer_insight_runs)
        insights[name] = {
            "paw_seconds": paw_s,
            "chdb_seconds": peer_s,
            "ratio": ratio(paw_s, peer_s),
        }

    model_seconds = {
        model: statistics.median(
            s.extra["model_seconds"].get(model, 0.0) for s in build["dbt build"].samples
        )
        for model in build["dbt build"].samples[-1].extra["model_seconds"]
    }
    incremental = bench_incremental(dataset, work, warehouse, runs)
    paw_ingest, floor = ingestion["paw ingest"], ingestion["duckdb read_json → parquet"]
    pyarrow_floor = ingestion["pyarrow ndjson → parquet"]
    return {
        "size": size,
        "events": events,
        "landing_files": dataset.files,
        "ingestion": {
            "paw": paw_ingest.to_dict(),
            "floor": floor.to_dict(),
            "paw_events_per_second": rate(events, paw_ingest.seconds),
            "floor_events_per_second": rate(events, floor.seconds),
            "ratio": ratio(paw_ingest.seconds, floor.seconds),
            "pyarrow": pyarrow_floor.to_dict(),
            "pyarrow_events_per_second": rate(
                pyarrow_floor.samples[-1].extra["rows"], pyarrow_floor.seconds
            ),
            "pyarrow_ratio": ratio(paw_ingest.seconds, pyarrow_floor.seconds),
        },
        "incremental": incremental,
        "build": {
            "paw": build["dbt build"].to_dict(),
            "floor": build["duckdb lake scan"].to_dict(),
            "ratio": ratio(build["dbt build"].seconds, build["duckdb lake scan"].seconds),
            "model_seconds": dict(sorted(model_seconds.items(), key=lambda kv: -kv[1])),
        },
        "insights": insights,
        "peer_matches": not mismatches,
        "mismatches": mismatches[:50],
        "query_seconds": _query_latency(warehouse, runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--size", choices=[*SIZES, "all"], default="all")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="skip the warm-up runs (the large sizes: a warm-up doubles their hour)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    base = project_root() / "data" / "bench"
    base.mkdir(parents=True, exist_ok=True)
    sizes = list(DEFAULT_SIZES) if args.size == "all" else [args.size]
    machine = {
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }
    results = {
        "machine": machine,
        "runs": args.runs,
        "warm_up": not args.no_warm_up,
        "sizes": {},
    }
    results_path = base / "results.json"
    if results_path.exists():  # keep the other size's figures when one size is re-run
        results["sizes"] = json.loads(results_path.read_text()).get("sizes", {})
    for size in sizes:
        results["sizes"][size] = bench_size(size, base, args.runs, not args.no_warm_up)
        results_path.write_text(json.dumps(results, indent=2, default=str))
    write_report(results, project_root() / "docs" / "benchmarks.md")
    failed = [s for s, r in results["sizes"].items() if not r.get("peer_matches", True)]
    if failed:
        for size in failed:
            for line in results["sizes"][size]["mismatches"]:
                log.error("%s: %s", size, line)
        log.error("paw's results differ from the peer's: see above")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
