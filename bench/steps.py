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

    if not args.get("keep"):  # a new run on the lake as it is, or a first run on a new one
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


def pyarrow_ndjson(args: dict) -> dict:
    """The floor the ingestion target names: pyarrow's own NDJSON → Parquet, file by file, of
    the NDJSON files DuckDB's floor reads; pyarrow stops at a malformed line, so it reads
    copies without them (clean_ndjson_copies, made once, not timed)."""
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    out = Path(args["out"])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    files = sorted(p for p in Path(args["clean"]).rglob("*.ndjson*") if p.is_file())
    rows = 0
    refused: list[str] = []  # a file pyarrow still cannot read is named, not silently skipped
    start = time.perf_counter()
    for number, path in enumerate(files):
        try:
            table = pj.read_json(path)
        except pa.ArrowInvalid as exc:
            refused.append(f"{path}: {exc}")
            continue
        pq.write_table(table, out / f"part-{number:06d}.parquet", compression="zstd")
        rows += table.num_rows
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "extra": {"rows": rows, "files": len(files), "files_refused": refused},
    }


def _object_without_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object, refused (as pyarrow refuses it) when a key repeats."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("a repeated key")
    return obj


def _keeps_types(obj: dict, kinds: dict[str, type], prefix: str) -> bool:
    """Every field of `obj` (nested objects too) has the type it had when first seen."""
    for key, value in obj.items():
        if value is None:
            continue
        path = f"{prefix}/{key}"
        kind = float if type(value) is int else type(value)  # pyarrow widens int to double
        if kinds.setdefault(path, kind) is not kind:
            return False
        if isinstance(value, dict) and not _keeps_types(value, kinds, path):
            return False
    return True


def clean_copies_marker(clean: Path) -> Path:
    """Written once the copies of clean_ndjson_copies are complete."""
    return clean / ".complete"


def clean_ndjson_copies(landing: Path, clean: Path) -> Path:
    """Copies of the landing zone's NDJSON files without the lines that are not JSON objects
    (the generator's malformed lines), kept until the landing zone changes."""
    import gzip

    marker = clean_copies_marker(clean)
    if marker.exists():
        return clean
    shutil.rmtree(clean, ignore_errors=True)
    kinds: dict[str, type] = {}
    for path in sorted(landing.rglob("*.ndjson*")):
        target = clean / path.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as src, opener(target, "wb") as dst:
            for line in src:
                try:
                    event = json.loads(line, object_pairs_hook=_object_without_repeated_keys)
                except ValueError:
                    continue
                # pyarrow fixes a field's type on first sight: a line that changes it is the
                # generator's contract violation, dropped here (paw quarantines it)
                if isinstance(event, dict) and _keeps_types(event, kinds, ""):
                    dst.write(line if line.endswith(b"\n") else line + b"\n")
    marker.touch()
    return clean


def dbt_build(args: dict) -> dict:
    """The nightly's dbt build: a full one into an empty warehouse, or (incremental_from) an
    incremental one on a copy of a built warehouse, as the nightly builds on a copy. Every
    build of a folder runs at one path, as paw's builds do (orchestration/warehouse/files.py),
    so that dbt reuses the parse of the build before it; the result is then renamed."""
    from orchestration.dbt.project import NIGHTLY_BUILD, run_dbt_command
    from orchestration.warehouse.files import (
        building_path,
        copy_database,
        move_database,
        remove_database,
    )
    from paw.settings import Settings

    warehouse = Path(args["warehouse"])
    warehouse.unlink(missing_ok=True)
    building = building_path(str(warehouse.parent / "paw.duckdb"))
    building.parent.mkdir(parents=True, exist_ok=True)
    remove_database(building)  # with a log a killed build left, which DuckDB would replay
    target = Path(args["target"])
    copy_seconds = 0.0
    if args.get("incremental_from"):
        if args.get("move_source"):
            # the disk of the 100m size holds one of its warehouses and the build's spill, not
            # two warehouses: the base is moved into place, so the copy is not timed there
            os.replace(args["incremental_from"], building)
        else:
            start = time.perf_counter()
            copy_database(Path(args["incremental_from"]), building)
            copy_seconds = time.perf_counter() - start
        command = NIGHTLY_BUILD
    else:
        shutil.rmtree(target, ignore_errors=True)
        command = [*NIGHTLY_BUILD, "--full-refresh"]
    settings = Settings.from_env({"PAW_LAKE_URL": args["lake"], "PAW_WAREHOUSE": str(building)})
    start = time.perf_counter()
    proc = run_dbt_command(
        command,
        settings,
        capture_output=True,
        env={**os.environ, "DBT_TARGET_PATH": str(target)},
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-4000:])
    move_database(building, warehouse)
    from bench.results import model_timings

    timings = model_timings(json.loads((target / "run_results.json").read_text()))
    return {
        "seconds": seconds + copy_seconds,
        "extra": {
            "model_seconds": timings,
            "copy_seconds": None if args.get("move_source") else copy_seconds,
        },
    }


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
    "pyarrow_ndjson": pyarrow_ndjson,
    "dbt_build": dbt_build,
    "lake_scan": lake_scan,
    "chdb_insights": chdb_insights,
}

if __name__ == "__main__":
    name, raw = sys.argv[1], sys.argv[2]
    result = STEPS[name](json.loads(raw))
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result, default=str))
