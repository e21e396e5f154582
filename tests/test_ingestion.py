"""Ingestion end to end on generated data: reconciliation, idempotence, crash safety, chunking."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.contract import EVENT_SCHEMA
from ingestion.ingest import ingest
from ingestion.lake import PART_FILE_PATTERN, event_key, run_id_of
from ingestion.partitions import PartitionWriter
from ingestion.prefetch import prefetch
from ingestion.storage import LocalStorage, LockHeldError
from paw.settings import Settings
from simulator.sample_data import GenerateOptions, generate
from tests.conftest import PawEnv, event, query_lake

OPTIONS = GenerateOptions(users=150, days=20, seed=7, end_date=date(2024, 3, 31))


def all_lake_files(lake: Path) -> list[Path]:
    return sorted(p for p in lake.rglob("*.parquet"))


def test_generate_ingest_and_every_line_is_accounted_for(paw_env: PawEnv):
    generated = generate(LocalStorage(paw_env.landing), OPTIONS)
    report = ingest(paw_env.settings)

    # Every non-blank landing line, counted independently of the ingestion code.
    lines = 0
    for path in paw_env.landing.rglob("*"):
        if path.is_file() and path.name != "segment-batch.json":
            import gzip

            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            lines += sum(1 for line in raw.split(b"\n") if line.strip())
    batch_members = generated.events - lines
    assert report.lines_read == lines + batch_members == generated.events
    assert report.reconciles
    assert report.lines_read == report.events_landed + report.quarantined + report.duplicates
    assert report.duplicates >= generated.redeliveries * 0.9  # most redeliveries are caught
    assert 0 < report.quarantined <= generated.bad_lines

    events = paw_env.lake_events()
    assert len(events) == report.events_landed
    assert len({e["event_id"] for e in events}) == len(events)  # one copy within the run
    quarantine = paw_env.quarantine()
    assert len(quarantine) == report.quarantined
    assert Counter(q["reason"] for q in quarantine) == report.reasons

    # The ingestion log in the lake says the same, per file.
    manifest = query_lake(
        paw_env.lake,
        f"select * from read_parquet('{paw_env.lake}/_ingestion_log/*.parquet')",
    )
    assert len(manifest) == len(report.files)
    for row in manifest:
        assert row["lines_read"] == row["events_landed"] + row["quarantined"] + row["duplicates"]
    assert sum(r["lines_read"] for r in manifest) == report.lines_read

    # Hive partitions by UTC event date, zstd, the fixed schema.
    for path in all_lake_files(paw_env.lake / "events"):
        assert path.parent.name.startswith("event_date=")
    con = duckdb.connect()
    meta = con.sql(
        f"select distinct compression from parquet_metadata('{paw_env.lake}/events/*/*.parquet')"
    ).fetchall()
    assert meta == [("ZSTD",)]
    mismatched = con.sql(
        f"select count(*) from read_parquet('{paw_env.lake}/events/*/*.parquet', "
        "hive_partitioning = true) where cast(event_timestamp as date) <> event_date"
    ).fetchone()[0]
    assert mismatched == 0
    # Many small landing files become few Parquet files: one per event date per run.
    dates = {e["event_timestamp"].date() for e in events}
    assert len(all_lake_files(paw_env.lake / "events")) == len(dates)


def test_running_again_writes_nothing(paw_env: PawEnv):
    generate(LocalStorage(paw_env.landing), OPTIONS)
    ingest(paw_env.settings)
    before = {p: p.stat().st_mtime_ns for p in all_lake_files(paw_env.lake)}
    again = ingest(paw_env.settings)
    assert again.files == []
    assert len(again.unchanged_files) > 0
    assert {p: p.stat().st_mtime_ns for p in all_lake_files(paw_env.lake)} == before


def test_a_redelivery_in_a_later_run_is_a_duplicate_and_the_lake_holds_each_id_once(
    paw_env: PawEnv,
):
    paw_env.write_lines("a.ndjson", [event(messageId="1"), event(messageId="2")])
    ingest(paw_env.settings)
    paw_env.write_lines(
        "b.ndjson",
        [event(messageId="2", properties={"copy": "later"}), event(messageId="3")],
    )
    report = ingest(paw_env.settings)
    [b] = report.files
    assert (b.source_file, b.lines_read, b.events_landed, b.duplicates) == ("b.ndjson", 2, 1, 1)
    # the first committed copy wins; a reader of the lake needs no dedup of its own
    events = paw_env.lake_events()
    assert [(e["event_id"], e["properties"]) for e in events] == [
        ("1", '{"x":1}'),
        ("2", '{"x":1}'),
        ("3", '{"x":1}'),
    ]
    raw = duckdb.sql(f"select count(*) from '{paw_env.lake}/events/*/*.parquet'").fetchone()[0]
    assert raw == 3


def test_the_event_id_index_is_committed_with_the_run_and_derived_for_older_runs(
    paw_env: PawEnv,
):
    paw_env.write_lines("a.ndjson", [event(messageId=f"m{n}") for n in range(5)])
    first = ingest(paw_env.settings)
    index = paw_env.lake / "_event_ids" / f"part-{first.run_id}.parquet"
    assert duckdb.sql(f"select count(*) from '{index}'").fetchone()[0] == 5
    # a lake written before the index existed: its runs have events but no id file
    index.unlink()
    paw_env.write_lines("b.ndjson", [event(messageId="m4"), event(messageId="m5")])
    second = ingest(paw_env.settings)
    assert index.exists()  # derived from the run's event files, once
    assert [(f.events_landed, f.duplicates) for f in second.files] == [(1, 1)]
    assert [e["event_id"] for e in paw_env.lake_events()] == [f"m{n}" for n in range(6)]


def test_landing_files_are_never_modified(paw_env: PawEnv):
    generate(LocalStorage(paw_env.landing), OPTIONS)
    before = {
        p: (p.stat().st_mtime_ns, p.read_bytes()) for p in paw_env.landing.rglob("*") if p.is_file()
    }
    ingest(paw_env.settings)
    after = {
        p: (p.stat().st_mtime_ns, p.read_bytes()) for p in paw_env.landing.rglob("*") if p.is_file()
    }
    assert after == before


class _DiesAfterWrites:
    """A lake storage that kills its process (no cleanup, like kill -9) after N writes."""

    def __init__(self, inner: LocalStorage, writes: int) -> None:
        self._inner = inner
        self._left = writes

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def _tick(self) -> None:
        if self._left == 0:
            os._exit(9)
        self._left -= 1

    def write_atomic(self, key, local_path):
        self._tick()
        self._inner.write_atomic(key, local_path)

    def write_bytes_atomic(self, key, data):
        self._tick()
        self._inner.write_bytes_atomic(key, data)


def _ingest_and_die(settings, writes: int) -> None:
    lake = _DiesAfterWrites(LocalStorage(Path(settings.lake_url)), writes)
    ingest(settings, lake=lake)


@pytest.mark.parametrize("writes_before_crash", [0, 1, 5, -1])
def test_a_run_killed_between_writes_then_rerun_loses_and_duplicates_nothing(
    paw_env: PawEnv, writes_before_crash: int
):
    generate(LocalStorage(paw_env.landing), OPTIONS)
    # Reference: a clean run into another lake.
    reference_env = dict(
        PAW_LANDING_URL=paw_env.settings.landing_url,
        PAW_LAKE_URL=str(paw_env.root / "reference-lake"),
    )

    reference = ingest(Settings.from_env(reference_env))
    total_writes = len(reference.written_keys)
    writes = total_writes - 1 if writes_before_crash == -1 else writes_before_crash

    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_ingest_and_die, args=(paw_env.settings, writes))
    child.start()
    child.join(120)
    assert child.exitcode == 9  # it really died mid-run, leaving whatever it left

    rerun = ingest(paw_env.settings)
    assert rerun.reconciles
    ids = [e["event_id"] for e in paw_env.lake_events()]
    expected = [
        e["event_id"]
        for e in query_lake(
            Path(reference_env["PAW_LAKE_URL"]), "select event_id from events order by event_id"
        )
    ]
    assert sorted(ids) == sorted(expected)
    assert len(ids) == len(set(ids))
    # No orphan is left for a naive reader either: every Parquet file belongs to a committed run.
    raw_count = (
        duckdb.connect()
        .sql(f"select count(*) from read_parquet('{paw_env.lake}/events/*/*.parquet')")
        .fetchone()[0]
    )
    assert raw_count == len(ids)
    assert not list(paw_env.lake.glob(".tmp/*"))


def test_a_large_file_streams_through_in_chunks(paw_env: PawEnv):
    lines = [
        event(messageId=f"m{i}", timestamp=f"2024-03-{1 + i % 28:02d}T10:00:00Z")
        for i in range(5000)
    ]
    lines.insert(2500, "not json")
    lines.append(event(messageId="m10"))  # a duplicate in a later chunk
    paw_env.write_lines("big.ndjson.gz", lines)
    report = ingest(paw_env.settings, block_bytes=16 * 1024)  # ~100 chunks
    assert (report.lines_read, report.events_landed, report.quarantined, report.duplicates) == (
        5002,
        5000,
        1,
        1,
    )
    [bad] = paw_env.quarantine()
    assert bad["line_number"] == 2501


def test_a_second_writer_is_refused_with_a_clear_message(paw_env: PawEnv):

    lake = LocalStorage(paw_env.lake)
    with (
        lake.lock("_lock", "someone-else"),
        pytest.raises(LockHeldError, match="held by another writer"),
    ):
        ingest(paw_env.settings)


def test_lines_are_read_ahead_of_the_validation_up_to_a_byte_budget():
    """ingestion.prefetch: the reader works ahead of its consumer up to the budget (one item at
    least, however large), hands over every item in order, and its error reaches the
    consumer."""
    produced: list[int] = []

    def items(sizes: list[int]):
        for i, _ in enumerate(sizes):
            produced.append(i)
            yield i

    def settled(count: int) -> list[int]:
        deadline = time.monotonic() + 5
        while len(produced) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # no further item comes
        return list(produced)

    sizes = [10] * 10
    reading = prefetch(items(sizes), lambda i: sizes[i], budget_bytes=30)
    assert next(reading) == 0
    # items 1-3 are ahead (30 bytes); item 4 is read and waits for room
    assert settled(5) == [0, 1, 2, 3, 4]
    assert list(reading) == list(range(1, 10))
    produced.clear()
    large = [100, 100, 100]
    assert list(prefetch(items(large), lambda i: large[i], budget_bytes=30)) == [0, 1, 2]

    def failing():
        yield 1
        raise OSError("the landing zone went away")

    reading = prefetch(failing(), lambda i: 1, budget_bytes=30)
    assert next(reading) == 1
    with pytest.raises(OSError, match="went away"):
        next(reading)


def test_a_date_of_many_row_groups_continues_in_new_files_that_hold_its_rows_in_order(tmp_path):
    """An open Parquet writer holds every row group's metadata until it closes: a date's file
    is closed after row_groups_per_file row groups and its next rows go to a new file, so that
    a large run holds no more than that per date. Across the files, every row in order."""
    writer = PartitionWriter(tmp_path, flush_bytes=1, row_groups_per_file=3)
    day = "2024-03-01"
    arrived: list[str] = []
    for batch in range(10):  # a flush, so a row group, after each batch
        ids = [f"{batch}-{i}" for i in range(100)]
        columns = {field.name: pa.nulls(100, field.type) for field in EVENT_SCHEMA}
        columns["event_id"] = pa.array(ids)
        columns["event_date"] = pa.array([day] * 100)
        writer.add(pa.table(columns))
        arrived += ids
    files = writer.close(set())
    assert [pq.ParquetFile(path).metadata.num_row_groups for path in files[day]] == [3, 3, 3, 1]
    stored = pa.concat_tables(pq.read_table(path) for path in files[day])
    assert stored.column("event_id").to_pylist() == arrived


def test_a_runs_later_files_of_a_date_are_numbered_and_still_name_the_run():
    """The lake keys of a date's files: part-<run_id>.parquet, then part-<run_id>-1.parquet and
    on; each names its run for ingestion and for DuckDB (dbt's macro holds the same pattern)."""
    run_id = "20261206T170324Z-566677f6"
    keys = [event_key("2024-03-01", run_id, number) for number in range(3)]
    assert keys == [
        f"events/event_date=2024-03-01/part-{run_id}.parquet",
        f"events/event_date=2024-03-01/part-{run_id}-1.parquet",
        f"events/event_date=2024-03-01/part-{run_id}-2.parquet",
    ]
    assert [run_id_of(key) for key in keys] == [run_id] * 3
    con = duckdb.connect()
    extracted = con.execute(
        "select list(regexp_extract(key, ?, 1)) from unnest(?) as t(key)",
        [PART_FILE_PATTERN, keys],
    ).fetchone()[0]
    assert extracted == [run_id] * 3


def test_event_files_written_while_rows_arrive_hold_every_row_in_order(tmp_path):
    """PartitionWriter encodes its flushes in a thread while rows keep arriving: with a flush
    after every batch, each date's file holds every row of that date, in arrival order."""
    writer = PartitionWriter(tmp_path, flush_bytes=1)
    days = ["2024-03-01", "2024-03-02"]
    arrived: dict[str, list[str]] = {day: [] for day in days}
    per_day = 10_000
    for batch in range(10):
        ids = {day: [f"{day}-{batch}-{i}" for i in range(per_day)] for day in days}
        columns = {field.name: pa.nulls(2 * per_day, field.type) for field in EVENT_SCHEMA}
        columns["event_id"] = pa.array(ids[days[0]] + ids[days[1]])
        columns["properties"] = pa.array([f'{{"n": "{"x" * 200}"}}'] * 2 * per_day)
        columns["event_date"] = pa.array([days[0]] * per_day + [days[1]] * per_day)
        writer.add(pa.table(columns))
        for day in days:
            arrived[day] += ids[day]
    files = writer.close(set())
    assert sorted(files) == days
    for day, path in files.items():
        assert pq.read_table(path).column("event_id").to_pylist() == arrived[day]
