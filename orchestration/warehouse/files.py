"""The warehouse's files: each run builds into its own file, published by an atomic rename.

Analysts read the published file (PAW_WAREHOUSE) while a run builds the next one beside it; a
reader that opened the old file keeps it until it closes, and a failed build never replaces it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from ingestion.storage import remove_all_but_newest

PUBLISHED_MODE = 0o444


def build_dir(warehouse_path: str) -> Path:
    return Path(warehouse_path).parent / ".build"


def build_path(warehouse_path: str, run_id: str) -> Path:
    return build_dir(warehouse_path) / f"{Path(warehouse_path).stem}-{run_id}.duckdb"


def start_build(warehouse_path: str, run_id: str, *, from_published: bool) -> Path:
    """The run's build file; an incremental or partial build starts from a copy of the published
    warehouse. Builds left by earlier failed runs are deleted, all but the newest few."""
    path = build_path(warehouse_path, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_all_but_newest([p for p in path.parent.glob("*.duckdb*") if p != path])
    published = Path(warehouse_path)
    if from_published and published.exists() and not path.exists():
        tmp = path.with_suffix(".copying")
        shutil.copyfile(published, tmp)
        os.replace(tmp, path)
    return path


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
