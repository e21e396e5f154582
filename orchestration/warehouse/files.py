"""The warehouse's files: each run builds into a file of its own, published by an atomic rename.
(dbt builds it at one path for every run, building_path, which the run's file takes over.)

Analysts read the published file (PAW_WAREHOUSE) while a run builds the next one beside it; a
reader that opened the old file keeps it until it closes, and a failed build never replaces it.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import duckdb

from ingestion.storage import remove_all_but_newest

PUBLISHED_MODE = 0o444


def build_dir(warehouse_path: str) -> Path:
    return Path(warehouse_path).parent / ".build"


def row_count_directory(warehouse_path: str) -> Path:
    """Where the nightly's dbt build writes the row count of each table it builds
    (macros/row_counts.sql), for the materializations in Dagster. The same folder for every
    build, as dbt's vars must be to reuse the parse (orchestration/dbt/project.py: keep_parse):
    builds run one at a time (orchestration/pools.py), and each empties it first."""
    return build_dir(warehouse_path) / "row-counts"


def building_path(warehouse_path: str) -> Path:
    """Where dbt builds: the same file for every run, so that dbt's vars (which name it) are the
    same from one build to the next and dbt reuses its parse (3.6 s of a full parse at 10M
    events). The run's own file takes it over when dbt ends (end_build)."""
    return build_dir(warehouse_path) / Path(warehouse_path).name


def build_path(warehouse_path: str, run_id: str) -> Path:
    """A run's build once dbt has ended: what its checks read and its publish renames."""
    return build_dir(warehouse_path) / f"{Path(warehouse_path).stem}-{run_id}.duckdb"


def start_build(warehouse_path: str, run_id: str, *, from_published: bool) -> Path:
    """The file dbt builds into (building_path): the run's own build if a retried step of the
    run left one, else a copy of the published warehouse for an incremental or partial build,
    else nothing (a full build). A file left there by a run killed while building is removed;
    builds left by earlier failed runs are deleted, all but the newest few."""
    building = building_path(warehouse_path)
    own = build_path(warehouse_path, run_id)
    building.parent.mkdir(parents=True, exist_ok=True)
    remove_database(building)
    remove_all_but_newest([p for p in building.parent.glob("*.duckdb*") if p != own])
    published = Path(warehouse_path)
    if own.exists():
        move_database(own, building)
    elif from_published and published.exists():
        copy_database(published, building)
    return building


def copy_database(source: Path, destination: Path) -> threading.Thread:
    """Copy a warehouse file for a build to work on (by a rename: never half a file at
    `destination`), then write the copy to disk in the background, while dbt starts and
    parses. Left to the kernel, the copy's pages stay in memory unwritten, and the build's
    first commit, which syncs the file, waited for all of them: at 10M events (2.2 GB)
    stg_events' commit took 2.5-2.7 s. Syncing before returning would hold up the build
    instead (the copy took 6.6-7.6 s rather than 1.6-3.3 s). Returns the writing thread."""
    copying = destination.with_suffix(".copying")
    shutil.copyfile(source, copying)
    os.replace(copying, destination)
    writer = threading.Thread(
        target=_write_to_disk, args=(destination,), name="paw-copy-writeback", daemon=True
    )
    writer.start()
    return writer


def _write_to_disk(path: Path) -> None:
    """fsync the file: the file's dirty pages, whoever wrote them, go to disk. Best effort (a
    file already moved on is synced through its descriptor; one already gone, not at all)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def end_build(warehouse_path: str, run_id: str) -> Path:
    """dbt has ended, whether its build is complete or not: the run's own file takes the build
    over (with its write-ahead log, if DuckDB left one), for the run's checks and publish, or
    for inspection after a failure."""
    own = build_path(warehouse_path, run_id)
    move_database(building_path(warehouse_path), own)
    return own


def move_database(source: Path, destination: Path) -> None:
    """Rename a DuckDB file, with its write-ahead log if it has one, over `destination`."""
    remove_database(destination)
    if wal_of(source).exists():
        os.replace(wal_of(source), wal_of(destination))
    if source.exists():
        os.replace(source, destination)


def remove_database(path: Path) -> None:
    """Delete a DuckDB file and its write-ahead log: a log left alone is replayed into the
    next file created at that path."""
    path.unlink(missing_ok=True)
    wal_of(path).unlink(missing_ok=True)


def publish_build(warehouse_path: str, run_id: str) -> Path:
    """Atomically replace the published warehouse with the run's build."""
    path = build_path(warehouse_path, run_id)
    if not path.exists():
        raise FileNotFoundError(f"no build to publish for run {run_id} at {path}")
    con = duckdb.connect(str(path))
    con.execute("checkpoint")  # fold any write-ahead log into the file before it moves
    con.close()
    published = Path(warehouse_path)
    published.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
    # Read-only on disk: an analyst's read-write connection fails at connect instead of
    # writing into a file the next publish replaces.
    os.chmod(path, PUBLISHED_MODE)
    # A write-ahead log left beside the published path (by a process killed while writing to
    # it) would be replayed into the new file and make it unopenable.
    wal_of(published).unlink(missing_ok=True)
    os.replace(path, published)
    return published


def wal_of(database: Path) -> Path:
    return database.with_name(database.name + ".wal")
