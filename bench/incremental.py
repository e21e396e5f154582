"""The nightly after one more day: the dataset's last days arrive as a new ingestion run on a
lake and a warehouse built from everything before them; the nightly's incremental build is
timed on a copy of that warehouse (as `paw run` builds on a copy of the published one), and its
marts are compared with the full build of the whole dataset."""

from __future__ import annotations

import logging
import os
import shutil
from collections import defaultdict
from pathlib import Path

import duckdb

from bench.datasets import Dataset
from bench.measure import Figure, run_step
from ingestion.lake import PART_FILE_PATTERN
from paw.settings import project_root

log = logging.getLogger("paw.bench")

DAY_SHARE = 0.09  # the new day's share of the dataset: about 1M events on a 10M base
LATE_SHARE = 0.02  # of the new day's events arrive late: files held back from earlier days


def lookback_days() -> int:
    """paw_lookback_days, from its one home: dbt_project.yml."""
    import yaml

    config = yaml.safe_load((project_root() / "dbt_project" / "dbt_project.yml").read_text())
    return int(config["vars"]["paw_lookback_days"])


def split_landing(landing: Path, share: float) -> tuple[list[Path], list[Path]]:
    """The landing files of a base, and those of the new day: the last days' files (about
    `share` of the bytes) plus, as late arrivals, some files of the ten days before them (about
    LATE_SHARE of the new day's bytes, some within the lookback and some beyond it). Files sit
    in .../yyyy/mm/dd/ folders."""
    by_day: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(landing.rglob("*")):
        if path.is_file():
            by_day["/".join(path.relative_to(landing).parts[-4:-1])].append(path)
    total = sum(p.stat().st_size for files in by_day.values() for p in files)
    days = sorted(by_day)
    new_days: list[str] = []
    new_bytes = 0
    for day in reversed(days):
        if new_bytes >= share * total:
            break
        new_days.append(day)
        new_bytes += sum(p.stat().st_size for p in by_day[day])
    earlier = [d for d in days if d not in new_days][-10:]
    late: list[Path] = []
    late_bytes = 0
    for round_ in range(max((len(by_day[d]) for d in earlier), default=0)):
        for day in reversed(earlier):  # a file of each day in turn: late by 1 to 10 days
            if late_bytes >= LATE_SHARE * new_bytes or round_ >= len(by_day[day]):
                continue
            late.append(by_day[day][round_])
            late_bytes += by_day[day][round_].stat().st_size
    new = [p for day in new_days for p in by_day[day]] + late
    base = [p for day in days if day not in new_days for p in by_day[day] if p not in late]
    return base, new


def _link(files: list[Path], source: Path, target: Path) -> None:
    for path in files:
        linked = target / path.relative_to(source)
        linked.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, linked)


def _new_day_profile(lake: Path) -> dict:
    """What the nightly has to absorb: the new run's events, how many happened before the day
    it brings (late) and before the lookback, and its identity calls."""
    con = duckdb.connect()
    row = con.execute(
        f"""
        with events as (
            select *, regexp_extract(filename, '{PART_FILE_PATTERN}', 1) as run_id
            from read_parquet('{lake}/events/*/*.parquet', filename = true)
        ),
        runs as (select run_id, min(event_timestamp) as first_at from events group by run_id),
        new_run as (select run_id from runs order by run_id desc limit 1),
        before as (
            select max(event_timestamp) as latest_at
            from events where run_id not in (select run_id from new_run)
        ),
        new_events as (select * from events where run_id in (select run_id from new_run))
        select
            count(*),
            count(*) filter (where event_timestamp < (select latest_at from before)),
            count(*) filter (
                where event_timestamp
                < (select latest_at from before) - to_days({lookback_days()})
            ),
            count(*) filter (where event_type in ('identify', 'alias'))
        from new_events
        """
    ).fetchone()
    con.close()
    return {
        "events": row[0],
        "late_events": row[1],
        "events_beyond_lookback": row[2],
        "identity_calls": row[3],
    }


def marts_differing(built: Path, reference: Path) -> list[str]:
    """The marts whose rows differ between two warehouses (built_at aside)."""
    con = duckdb.connect()
    con.execute(f"attach '{built}' as built (read_only)")
    con.execute(f"attach '{reference}' as reference (read_only)")
    tables = [
        t
        for (t,) in con.execute(
            "select table_name from duckdb_tables() "
            "where database_name = 'reference' and schema_name = 'marts' order by 1"
        ).fetchall()
    ]
    differing = []
    for table in tables:
        columns = "columns(c -> c <> 'built_at')"
        extra = con.execute(
            f"select count(*) from ("
            f"select {columns} from built.marts.{table} except all "
            f"select {columns} from reference.marts.{table}) "
        ).fetchone()[0]
        missing = con.execute(
            f"select count(*) from ("
            f"select {columns} from reference.marts.{table} except all "
            f"select {columns} from built.marts.{table}) "
        ).fetchone()[0]
        if extra or missing:
            differing.append(f"{table}: {extra} rows not in the full build, {missing} missing")
    con.close()
    return differing


def bench_incremental(
    dataset: Dataset,
    work: Path,
    full_warehouse: Path | None,
    runs: int,
    move_base: bool = False,
    done: dict | None = None,
) -> dict:
    """The base's ingestion and full build, the new day's ingestion, then `runs` incremental
    builds; their marts are compared with `full_warehouse` when there is one. With `move_base`
    (runs=1, for the disk of the 100m size), the base warehouse is moved into place instead of
    copied. `done` receives each step's figure as it completes, for a report of a run that
    fails midway."""
    done = {} if done is None else done
    if move_base and runs != 1:
        raise ValueError("move_base leaves no base for a second incremental build")
    root = work / "incremental"
    shutil.rmtree(root, ignore_errors=True)
    landing, lake = root / "landing", root / "lake"
    base_files, new_files = split_landing(dataset.landing, DAY_SHARE)
    _link(base_files, dataset.landing, landing)
    log.info("incremental: ingesting and building the %d files before the new day", len(base_files))
    base_ingestion = run_step("paw_ingest", {"landing": str(landing), "lake": str(lake)})
    done["base_ingestion"] = Figure("base ingestion", [base_ingestion]).to_dict()
    base = root / "base.duckdb"
    target = root / "dbt-target"
    base_build = run_step(
        "dbt_build", {"lake": str(lake), "warehouse": str(base), "target": str(target)}
    )
    done["base_build"] = Figure("base build", [base_build]).to_dict()
    log.info("incremental: base built in %.1fs", base_build.seconds)
    _link(new_files, dataset.landing, landing)
    new_run = run_step("paw_ingest", {"landing": str(landing), "lake": str(lake), "keep": True})
    profile = _new_day_profile(lake)
    log.info("incremental: the new day: %s", profile)
    nightly = root / "nightly.duckdb"
    figure = Figure("incremental dbt build", [])
    args = {
        "lake": str(lake),
        "warehouse": str(nightly),
        "target": str(target),
        "incremental_from": str(base),
        "move_source": move_base,
    }
    for run in range(runs):
        sample = run_step("dbt_build", args)
        figure.samples.append(sample)
        log.info("run %d/%d incremental build: %.2fs", run + 1, runs, sample.seconds)
    differing = marts_differing(nightly, full_warehouse) if full_warehouse else None
    return {
        "new_day": profile | {"files": len(new_files)},
        "ingestion_seconds": new_run.seconds,
        "ingestion_peak_rss_mb": round(new_run.peak_rss_mb, 1),
        "build": figure.to_dict(),
        "copy_seconds": figure.samples[-1].extra["copy_seconds"],
        "model_seconds": figure.samples[-1].extra["model_seconds"],
        # None: not compared (the 100m size builds the whole dataset only incrementally)
        "marts_equal_full_build": None if differing is None else not differing,
        "marts_differing": differing or [],
        **done,
        "warehouse": str(nightly),
    }
