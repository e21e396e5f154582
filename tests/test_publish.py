"""Publishing the warehouse file: atomic, read-only on disk, never blocked by a stale WAL."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb

from orchestration.warehouse.files import (
    build_path,
    building_path,
    copy_database,
    end_build,
    publish_build,
    start_build,
    wal_of,
)


def _build(warehouse: Path, run_id: str, value: int, *, from_published: bool = False) -> None:
    path = start_build(str(warehouse), run_id, from_published=from_published)
    con = duckdb.connect(str(path))
    con.execute(f"create or replace table t as select {value} as v")
    con.close()
    end_build(str(warehouse), run_id)


def _value(database: Path) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("select v from t").fetchone()[0]


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


def test_every_build_runs_at_one_path_and_ends_in_its_runs_own_file(tmp_path: Path):
    """dbt builds at building_path whatever the run (its vars stay the same, so it reuses its
    parse); the run's own file takes the build over, with the rows DuckDB still held in its
    write-ahead log."""
    warehouse = tmp_path / "paw.duckdb"
    _build(warehouse, "run-1", 1)
    publish_build(str(warehouse), "run-1")
    path = start_build(str(warehouse), "run-2", from_published=True)
    assert path == building_path(str(warehouse)) == tmp_path / ".build" / "paw.duckdb"
    assert _value(path) == 1  # a copy of the published warehouse
    con = duckdb.connect(str(path))
    con.execute("set checkpoint_threshold = '1TB'")
    con.execute("pragma disable_checkpoint_on_shutdown")
    con.execute("create table w as select * from range(1000)")
    con.close()
    assert wal_of(path).exists()  # the rows are in the log alone
    assert end_build(str(warehouse), "run-2") == build_path(str(warehouse), "run-2")
    assert not path.exists() and not wal_of(path).exists()
    assert wal_of(build_path(str(warehouse), "run-2")).exists()
    with duckdb.connect(str(build_path(str(warehouse), "run-2")), read_only=True) as con:
        assert con.execute("select count(*) from w").fetchone()[0] == 1000


def test_a_retried_build_continues_and_a_killed_runs_file_is_discarded(tmp_path: Path):
    warehouse = tmp_path / "paw.duckdb"
    _build(warehouse, "run-1", 1)
    publish_build(str(warehouse), "run-1")
    # a step of run-2 ended without publishing; its retry continues from that build
    _build(warehouse, "run-2", 2, from_published=True)
    assert _value(start_build(str(warehouse), "run-2", from_published=True)) == 2
    end_build(str(warehouse), "run-2")
    # run-3 was killed while building: its file at the building path is not the next start
    killed = start_build(str(warehouse), "run-3", from_published=True)
    with duckdb.connect(str(killed)) as con:
        con.execute("pragma disable_checkpoint_on_shutdown")
        con.execute("update t set v = 3")
    assert wal_of(killed).exists()
    assert _value(start_build(str(warehouse), "run-4", from_published=True)) == 1
    assert not start_build(str(warehouse), "run-5", from_published=False).exists()


def test_a_copy_for_a_build_is_whole_at_once_and_written_to_disk_in_the_background(
    tmp_path: Path,
):
    """copy_database: the destination is the whole file or nothing (a rename), and the
    returned thread syncs the copy to disk while the build starts; syncing a file that was
    moved on meanwhile (end_build's rename) is no error."""
    source = tmp_path / "published.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute("create table t as select range as v from range(100000)")
    destination = tmp_path / ".build" / "paw.duckdb"
    destination.parent.mkdir()
    writer = copy_database(source, destination)
    assert destination.read_bytes() == source.read_bytes()
    assert not destination.with_suffix(".copying").exists()
    destination.rename(tmp_path / "moved.duckdb")
    writer.join(timeout=60)
    assert not writer.is_alive()
    assert _value_count(tmp_path / "moved.duckdb") == 100000


def _value_count(database: Path) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("select count(*) from t").fetchone()[0]
