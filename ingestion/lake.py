"""The lake's layout: where events, quarantine and the ingestion log live, which files count.

A run's files carry its run id in their names (`part-<run_id>.parquet`). The run's ingestion
log `_ingestion_log/<run_id>.parquet` is written last: it is the commit point. Readers consider
only files of committed runs; files of a run that died before its commit are orphans, invisible
to readers and deleted by the next run under the lake's lock.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.contract import INGESTION_LOG_SCHEMA, empty_table
from ingestion.storage import Storage

EVENTS_PREFIX = "events/"
QUARANTINE_PREFIX = "quarantine/"
INGESTION_LOG_PREFIX = "_ingestion_log/"
EVENT_IDS_PREFIX = "_event_ids/"  # ingestion.event_ids: the ids each committed run landed
LOCK_KEY = "_lock"

# dbt's macro paw_committed_runs_filter holds the same pattern (a test keeps them equal). A
# run's second and later files of one event date carry their number after the run id
# (ingestion.partitions.ROW_GROUPS_PER_FILE).
RUN_ID_PATTERN = r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}"
PART_FILE_PATTERN = rf"part-({RUN_ID_PATTERN})(?:-[0-9]+)?\.parquet"
_PART_RE = re.compile(PART_FILE_PATTERN + "$")


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def event_key(event_date: str, run_id: str, number: int = 0) -> str:
    """The run's event file `number` (from 0) of a date: the first is part-<run_id>.parquet."""
    suffix = f"-{number}" if number else ""
    return f"{EVENTS_PREFIX}event_date={event_date}/part-{run_id}{suffix}.parquet"


def quarantine_key(ingest_date: str, run_id: str) -> str:
    return f"{QUARANTINE_PREFIX}ingest_date={ingest_date}/part-{run_id}.parquet"


def ingestion_log_key(run_id: str) -> str:
    return f"{INGESTION_LOG_PREFIX}{run_id}.parquet"


def event_ids_key(run_id: str) -> str:
    return f"{EVENT_IDS_PREFIX}part-{run_id}.parquet"


def run_id_of(key: str) -> str | None:
    match = _PART_RE.search(key)
    return match.group(1) if match else None


@dataclass(frozen=True)
class LogEntry:
    """What the ingestion log knows of a landing file: its latest successful reading."""

    run_id: str
    source_file: str
    size_bytes: int
    source_version: str | None
    content_hash: str


def read_ingestion_log(storage: Storage) -> pa.Table:
    """Every committed run's per-file rows."""
    tables = []
    for obj in storage.list(INGESTION_LOG_PREFIX):
        if obj.key.endswith(".parquet"):
            tables.append(pq.ParquetFile(io.BytesIO(storage.read_bytes(obj.key))).read())
    if not tables:
        return empty_table(INGESTION_LOG_SCHEMA)
    return pa.concat_tables([t.cast(INGESTION_LOG_SCHEMA) for t in tables])


def committed_runs(log: pa.Table) -> set[str]:
    return set(log.column("run_id").to_pylist())


def committed_run_ids(storage: Storage) -> set[str]:
    """The committed runs, from the names of their log files alone (no file is read)."""
    return {
        name.removesuffix(".parquet")
        for obj in storage.list(INGESTION_LOG_PREFIX)
        if (name := obj.key.rsplit("/", 1)[-1]).endswith(".parquet")
    }


def latest_entries(log: pa.Table) -> dict[str, LogEntry]:
    """The latest successful reading of each source file (failed readings do not count)."""
    out: dict[str, LogEntry] = {}
    columns = ["run_id", "source_file", "size_bytes", "source_version", "content_hash"]
    # by the time the file was read: run ids order only to the second
    rows = log.filter(pc.is_null(log.column("error"))).sort_by(
        [("started_at", "ascending"), ("run_id", "ascending")]
    )
    for row in rows.select(columns).to_pylist():
        out[row["source_file"]] = LogEntry(**row)
    return out


def orphan_keys(storage: Storage, committed: Iterable[str]) -> list[str]:
    """Data files written by runs that never committed."""
    committed = set(committed)
    orphans = []
    for prefix in (EVENTS_PREFIX, QUARANTINE_PREFIX, EVENT_IDS_PREFIX):
        for obj in storage.list(prefix):
            run_id = run_id_of(obj.key)
            if run_id is not None and run_id not in committed:
                orphans.append(obj.key)
    return orphans


def newest_event_at(storage: Storage) -> datetime | None:
    """The newest event_timestamp among committed events, from the newest partition's footers."""
    committed = committed_runs(read_ingestion_log(storage))
    by_date: dict[str, list[str]] = {}
    for obj in storage.list(EVENTS_PREFIX):
        match = re.search(r"event_date=(\d{4}-\d{2}-\d{2})/", obj.key)
        if match and run_id_of(obj.key) in committed:
            by_date.setdefault(match.group(1), []).append(obj.key)
    if not by_date:
        return None
    newest: datetime | None = None
    for key in by_date[max(by_date)]:
        meta = pq.ParquetFile(io.BytesIO(storage.read_bytes(key))).metadata
        column = meta.schema.to_arrow_schema().get_field_index("event_timestamp")
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(column).statistics
            if stats is not None and stats.has_min_max:
                value = stats.max
                newest = value if newest is None or value > newest else newest
    return newest


@dataclass(frozen=True)
class LakeTotals:
    """What the whole lake holds, from its ingestion log (every committed run)."""

    events: int
    quarantined: int
    log_rows: int


def lake_totals(storage: Storage) -> LakeTotals:
    log = read_ingestion_log(storage)
    return LakeTotals(
        events=int(pc.sum(log.column("events_landed")).as_py() or 0),
        quarantined=int(pc.sum(log.column("quarantined")).as_py() or 0),
        log_rows=log.num_rows,
    )
