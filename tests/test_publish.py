"""Publishing the warehouse file: atomic, read-only on disk, never blocked by a stale WAL."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb

from orchestration.warehouse.files import build_path, publish_build, start_build, wal_of


def _build(warehouse: Path, run_id: str, value: int) -> None:
    path = start_build(str(warehouse), run_id, from_published=False)
    con = duckdb.connect(str(path))
    con.execute(f"create or replace table t as select {value} as v")
    con.close()


def test_a_stale_wal_beside_the_published_path_never_breaks_it(tmp_path: Path):
    warehouse = tmp_path / "paw.duckdb"
    # a process wrote to a database at the published path and was killed: its WAL stays
    other = duckdb.connect(str(tmp_path / "other.duckdb"))
    other.execute("set checkpoint_threshold = '1TB'")
    other.execute("create table w as select * from range(1000)")
    wal_of(tmp_path / "other.duckdb").rename(wal_of(warehouse))
    other.close()
    _build(warehouse, "run-1", 1)
    publish_build(str(warehouse), "run-1")
    assert not wal_of(warehouse).exists()
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select v from t").fetchall() == [(1,)]
    con.close()


def test_the_published_file_is_read_only_on_disk_and_replaced_whole(tmp_path: Path):
    warehouse = tmp_path / "paw.duckdb"
    _build(warehouse, "run-1", 1)
    publish_build(str(warehouse), "run-1")
    assert stat.S_IMODE(warehouse.stat().st_mode) == 0o444
    reader = duckdb.connect(str(warehouse), read_only=True)
    _build(warehouse, "run-2", 2)
    publish_build(str(warehouse), "run-2")
    # an open reader keeps the file it opened; a new connection sees the new build
    assert reader.execute("select v from t").fetchall() == [(1,)]
    reader.close()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select v from t").fetchall() == [(2,)]
    assert not build_path(str(warehouse), "run-2").exists()


def test_builds_left_by_failed_runs_are_pruned_to_the_newest_few(tmp_path: Path):
    warehouse = tmp_path / "paw.duckdb"
    for i in range(6):  # six failed runs left their builds
        _build(warehouse, f"failed-{i}", i)
        os.utime(build_path(str(warehouse), f"failed-{i}"), (1000 + i, 1000 + i))
    start_build(str(warehouse), "next", from_published=False)
    left = sorted(p.name for p in build_path(str(warehouse), "x").parent.glob("*.duckdb"))
    assert left == ["paw-failed-3.duckdb", "paw-failed-4.duckdb", "paw-failed-5.duckdb"]
