"""The measured steps. Each runs alone in its own process (`python -m bench.steps NAME ARGS`) so
that its peak memory is its own; it prints one JSON line: seconds, peak RSS, extra figures."""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: reset by exec, unlike ru_maxrss, which a child
    inherits from the parent it was forked from), or its largest child's (dbt)."""
    own_kib = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            own_kib = int(line.split()[1])
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own_kib, children_kib) / 1024


def paw_ingest(args: dict) -> dict:
    from ingestion.ingest import ingest
    from paw.settings import Settings

    shutil.rmtree(args["lake"], ignore_errors=True)
    settings = Settings.from_env({"PAW_LANDING_URL": args["landing"], "PAW_LAKE_URL": args["lake"]})
    start = time.perf_counter()
    report = ingest(settings)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "extra": {
            "events_read": report.lines_read,
            "events_landed": report.events_landed,
            "quarantined": report.quarantined,
            "duplicates": report.duplicates,
            "reconciles": report.reconciles,
        },
    }


def duckdb_read_json(args: dict) -> dict:
    """The floor: DuckDB's own NDJSON → Parquet, no validation, no quarantine."""
    import duckdb

    out = Path(args["out"])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("set preserve_insertion_order = false")
    start = time.perf_counter()
    con.execute(
        f"copy (select * from read_json('{args['landing']}/**/*.ndjson*', "
        "format = 'newline_delimited', ignore_errors = true)) "
        f"to '{out}/events.parquet' (format parquet, compression zstd)"
    )
    seconds = time.perf_counter() - start
    rows = con.execute(f"select count(*) from read_parquet('{out}/events.parquet')").fetchone()[0]
    return {"seconds": seconds, "extra": {"rows": rows}}


def dbt_build(args: dict) -> dict:
    warehouse = Path(args["warehouse"])
    warehouse.unlink(missing_ok=True)
    target = Path(args["target"])
    shutil.rmtree(target, ignore_errors=True)
    from orchestration.dbt.project import run_dbt_command
    from paw.settings import Settings

    settings = Settings.from_env({"PAW_LAKE_URL": args["lake"], "PAW_WAREHOUSE": str(warehouse)})
    start = time.perf_counter()
    proc = run_dbt_command(
        ["build"],
        settings,
        capture_output=True,
        env={**os.environ, "DBT_TARGET_PATH": str(target)},
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-4000:])
    from bench.results import model_timings

    timings = model_timings(json.loads((target / "run_results.json").read_text()))
    return {"seconds": seconds, "extra": {"model_seconds": timings}}


def lake_scan(args: dict) -> dict:
    """The floor for any pass over the data: one plain DuckDB scan of the lake."""
    import duckdb

    con = duckdb.connect()
    start = time.perf_counter()
    row = con.execute(
        f"select count(*), count(distinct user_id), max(event_timestamp) "
        f"from read_parquet('{args['lake']}/events/*/*.parquet')"
    ).fetchone()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "extra": {"events": row[0], "users": row[1]}}


def chdb_insights(args: dict) -> dict:
    from bench.peer import PeerInputs, run_peer

    inputs = PeerInputs(**args["inputs"])
    start = time.perf_counter()
    results, timings = run_peer(inputs)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "extra": {"results": results, "timings": timings}}


STEPS = {
    "paw_ingest": paw_ingest,
    "duckdb_read_json": duckdb_read_json,
    "dbt_build": dbt_build,
    "lake_scan": lake_scan,
    "chdb_insights": chdb_insights,
}

if __name__ == "__main__":
    name, raw = sys.argv[1], sys.argv[2]
    result = STEPS[name](json.loads(raw))
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result, default=str))
