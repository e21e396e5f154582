"""ingest: landing zone → validated, deduplicated, date-partitioned Parquet in the lake.

One run holds the lake's lock, reads every new landing file once, and commits by writing its
ingestion log last. A file that cannot be read is recorded as failed; a file that changed while
it was read, or whose last line may still be growing, is left for the next run. Neither stops
the other files.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.contract import QUARANTINE_SCHEMA, Reason, empty_table
from ingestion.dedup import FirstCopies
from ingestion.event_ids import committed_id_files
from ingestion.lake import (
    LOCK_KEY,
    committed_runs,
    event_ids_key,
    event_key,
    ingestion_log_key,
    latest_entries,
    new_run_id,
    orphan_keys,
    quarantine_key,
    read_ingestion_log,
)
from ingestion.partitions import PartitionWriter, without_sources
from ingestion.prefetch import prefetch
from ingestion.reader import BLOCK_BYTES, HashingReader, LineChunk, Rejected, read_chunks
from ingestion.report import FileReport, IngestionReport
from ingestion.selection import HASH_READ_BYTES, select_landing_files
from ingestion.storage import (
    ObjectInfo,
    Storage,
    StorageError,
    clear_stale_staging,
    open_storage,
    staging_dir,
)
from ingestion.validate import LineValidator
from paw.settings import Settings

log = logging.getLogger("paw.ingestion")

DUCKDB_MEMORY_LIMIT = "512MB"
BATCH_LINES = 200_000  # lines validated together: small files are pooled, large ones cut
PREFETCH_BYTES = 64 * 1024 * 1024  # lines read ahead of the validation


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class _FileEnd:
    """A file was read to its end; `waiting` says why it is left for the next run."""

    waiting: str | None = None


@dataclass
class _FileFailed:
    error: str


# on_progress(files done, files to read, lines read so far)
ProgressCallback = Callable[[int, int, int], None]


def _rejected_table(rows: list[Rejected], source_file: str, ingested_at: datetime) -> pa.Table:
    return pa.table(
        {
            "source_file": [source_file] * len(rows),
            "line_number": [r.line_number for r in rows],
            "batch_index": [r.batch_index for r in rows],
            "reason": [str(r.reason) for r in rows],
            "error": [r.error for r in rows],
            "raw_line": [r.raw_line for r in rows],
            "raw_bytes": [r.raw_bytes for r in rows],
            "ingested_at": [ingested_at] * len(rows),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _tagged(chunk: LineChunk, file_seq: int, source_file: str) -> pa.Table:
    n = chunk.lines.num_rows
    lines = chunk.lines.column("line")
    if lines.type == pa.large_string():
        lines = lines.cast(pa.string())
    return pa.table(
        {
            "file_seq": pa.array(np.full(n, file_seq, dtype=np.int32)),
            "source_file": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, dtype=np.int32)), pa.array([source_file])
            ).cast(pa.string()),
            "line_number": chunk.lines.column("line_number"),
            "batch_index": chunk.lines.column("batch_index"),
            "line": lines,
            "openings": chunk.lines.column("openings"),
        }
    )


class _Run:
    """State of one ingestion run: the DuckDB session, the writers and the ids seen."""

    def __init__(self, lake: Storage, run_id: str, work_dir: Path, committed: set[str]) -> None:
        self.lake = lake
        self.run_id = run_id
        self.work_dir = work_dir
        self.ingested_at = _utcnow()
        self.con = duckdb.connect()
        self.con.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        self.con.execute("set temp_directory = ?", [str(work_dir / "duckdb")])
        self.con.execute("set preserve_insertion_order = false")
        self.con.execute("set enable_progress_bar = false")
        self.validator = LineValidator(self.con)
        self.first_copies = FirstCopies(self.con)
        for id_file in committed_id_files(lake, committed, self.con, work_dir):
            self.first_copies.remember(id_file)
        self.events = PartitionWriter(work_dir)
        self.quarantine_path = work_dir / "quarantine.parquet"
        self.quarantine = pq.ParquetWriter(
            self.quarantine_path, QUARANTINE_SCHEMA, compression="zstd"
        )

    def reject(self, report: FileReport, rejected: list[Rejected]) -> None:
        """Lines refused before validation (undecodable bytes, a cut-off tail)."""
        if not rejected:
            return
        self.quarantine.write_table(_rejected_table(rejected, report.source_file, self.ingested_at))
        report.lines_read += len(rejected)
        report.quarantined += len(rejected)
        report.reasons.update(str(r.reason) for r in rejected)

    def process(
        self, lines: pa.Table, reports: dict[int, FileReport], *, in_envelope: bool = False
    ) -> None:
        """Validate, deduplicate and buffer a batch of lines from one or more files; the
        members of batch envelopes follow as a batch of their own."""
        if lines.num_rows == 0:
            return
        self.validator.validate(lines, self.ingested_at, in_envelope=in_envelope)
        bad = self.con.execute(
            "select file_seq, source_file, line_number, batch_index, reason, error, raw_line, "
            "raw_bytes, ingested_at from judged where reason is not null"
        ).to_arrow_table()
        counts = self.con.execute(
            """
            select
                file_seq,
                count(*) filter (where not is_envelope) as lines_read,
                count(*) filter (where is_event) as valid,
                count(*) filter (where is_envelope) as envelopes
            from judged group by file_seq
            """
        ).fetchall()
        kept = self.first_copies.take()
        members = self.validator.envelope_members() if any(c[3] for c in counts) else None
        landed: dict[int, int] = {}
        if kept.num_rows:
            for row in kept.group_by("file_seq").aggregate([("file_seq", "count")]).to_pylist():
                landed[row["file_seq"]] = row["file_seq_count"]
            self.events.add(kept.drop_columns(["file_seq"]))
        if bad.num_rows:
            self.quarantine.write_table(bad.drop_columns(["file_seq"]).cast(QUARANTINE_SCHEMA))
        for seq, reason in zip(
            bad.column("file_seq").to_pylist(), bad.column("reason").to_pylist(), strict=True
        ):
            reports[seq].reasons[reason] += 1
            reports[seq].quarantined += 1
        for file_seq, lines_read, valid, _ in counts:
            report = reports[file_seq]
            report.lines_read += lines_read
            report.events_landed += landed.get(file_seq, 0)
            report.duplicates += valid - landed.get(file_seq, 0)
        if members is not None:
            self.process(members, reports, in_envelope=True)

    def publish(self, report: IngestionReport, withdrawn_files: dict[int, str]) -> list[str]:
        """Write every file of the run, its event id index, then its ingestion log: the commit
        point. Rows of the withdrawn source files (by file_seq) are left out."""
        written = []
        withdrawn = set(withdrawn_files.values())
        event_files = self.events.close(withdrawn)
        ids_path = self.work_dir / "event_ids.parquet"
        self.first_copies.write_landed_ids(ids_path, set(withdrawn_files))
        for day, paths in event_files.items():
            for number, path in enumerate(paths):
                key = event_key(day, self.run_id, number)
                self.lake.write_atomic(key, path)
                written.append(key)
        self.lake.write_atomic(event_ids_key(self.run_id), ids_path)
        written.append(event_ids_key(self.run_id))
        self.quarantine.close()
        if withdrawn and not without_sources(self.quarantine_path, withdrawn):
            pq.write_table(empty_table(QUARANTINE_SCHEMA), self.quarantine_path)
        key = quarantine_key(self.ingested_at.strftime("%Y-%m-%d"), self.run_id)
        self.lake.write_atomic(key, self.quarantine_path)
        written.append(key)
        sink = pa.BufferOutputStream()
        pq.write_table(report.log_table(), sink, compression="zstd")
        self.lake.write_bytes_atomic(ingestion_log_key(self.run_id), sink.getvalue().to_pybytes())
        written.append(ingestion_log_key(self.run_id))
        return written

    def close(self) -> None:
        self.con.close()


def ingest(
    settings: Settings,
    *,
    block_bytes: int = BLOCK_BYTES,
    landing: Storage | None = None,
    lake: Storage | None = None,
    on_progress: ProgressCallback | None = None,
) -> IngestionReport:
    """Ingest every new landing file into the lake, atomically and idempotently.

    `landing` and `lake` default to the storages the settings name; `on_progress(files done,
    files to read, lines read)` is called as each file is read.
    """
    started = time.monotonic()
    landing = landing or open_storage(settings.landing_url, settings.s3)
    lake = lake or open_storage(settings.lake_url, settings.s3)
    run_id = new_run_id()
    report = IngestionReport(run_id=run_id)
    with lake.lock(LOCK_KEY, run_id):
        ingestion_log = read_ingestion_log(lake)
        orphans = orphan_keys(lake, committed_runs(ingestion_log))
        for key in orphans:
            lake.delete(key)
        if orphans:
            log.warning("removed %d file(s) left by runs that did not commit", len(orphans))
        clear_stale_staging(lake)
        selection = select_landing_files(landing, latest_entries(ingestion_log))
        report.unchanged_files = selection.unchanged
        report.ignored_files = selection.ignored
        unreadable = [FileReport(key, error=why) for key, why in selection.unreadable.items()]
        log.info(
            "run %s: %d new landing file(s) in %s, %d already ingested",
            run_id,
            len(selection.new),
            landing.url,
            len(selection.unchanged),
        )
        if selection.new or unreadable:
            work_dir = staging_dir(lake, run_id)
            run = _Run(lake, run_id, work_dir, committed_runs(ingestion_log))
            try:
                withdrawn_files = _ingest_files(
                    run, landing, selection.new, block_bytes, settings, report, on_progress
                )
                report.files += unreadable
                report.written_keys = run.publish(report, withdrawn_files)
            finally:
                run.close()
                shutil.rmtree(work_dir, ignore_errors=True)
    report.seconds = time.monotonic() - started
    log.info(report.summary())
    return report


def _read_files(
    landing: Storage,
    files: list[ObjectInfo],
    reports: dict[int, FileReport],
    block_bytes: int,
    settle_seconds: float,
) -> Iterator[tuple[int, LineChunk | _FileEnd | _FileFailed]]:
    """Chunks of every file in turn, each file closed by a _FileEnd or a _FileFailed."""
    for seq, obj in enumerate(files):
        report = reports[seq]
        report.started_at = _utcnow()
        report.source_version = obj.version
        unsettled = False
        try:
            with landing.open_read(obj.key) as raw:
                reader = HashingReader(raw)
                for chunk in read_chunks(reader, obj.key, obj.size, block_bytes):
                    unsettled = chunk.unterminated_last_line or any(
                        r.reason == Reason.TRUNCATED_FILE for r in chunk.rejected
                    )
                    yield seq, chunk
                while reader.read(HASH_READ_BYTES):
                    pass  # hash and size cover the whole file even where reading stopped early
            report.size_bytes = reader.size
            report.content_hash = reader.sha256.hexdigest()
            after = landing.stat(obj.key)
        except (StorageError, OSError) as exc:
            yield seq, _FileFailed(str(exc))
            continue
        age = time.time() - obj.modified_at
        if (after.size, after.version) != (obj.size, obj.version):
            yield seq, _FileEnd(waiting="it changed while it was read")
        elif unsettled and age < settle_seconds:
            yield (
                seq,
                _FileEnd(
                    waiting=f"its last line has no newline yet and it was modified {age:.0f}s ago"
                ),
            )
        else:
            yield seq, _FileEnd()


def _chunk_bytes(item: tuple[int, LineChunk | _FileEnd | _FileFailed]) -> int:
    chunk = item[1]
    return chunk.lines.nbytes if isinstance(chunk, LineChunk) else 0


def _ingest_files(
    run: _Run,
    landing: Storage,
    files: list[ObjectInfo],
    block_bytes: int,
    settings: Settings,
    run_report: IngestionReport,
    on_progress: ProgressCallback | None = None,
) -> dict[int, str]:
    """Read the files into the run; their reports go into `run_report`. Returns the source files
    whose rows must not be committed (waiting or failed), by file_seq."""
    reports = {seq: FileReport(source_file=obj.key) for seq, obj in enumerate(files)}
    pending: list[pa.Table] = []
    pending_rows = 0
    waiting: dict[int, str] = {}
    failed: dict[int, str] = {}
    files_done = lines_read = 0

    def flush() -> None:
        nonlocal pending, pending_rows
        if pending:
            run.process(pa.concat_tables(pending), reports)
        pending, pending_rows = [], 0

    chunks = _read_files(landing, files, reports, block_bytes, settings.landing_settle_seconds)
    for seq, item in prefetch(chunks, _chunk_bytes, PREFETCH_BYTES):
        report = reports[seq]
        if isinstance(item, _FileFailed | _FileEnd):
            files_done += 1
            if on_progress is not None:
                on_progress(files_done, len(files), lines_read)
        if isinstance(item, _FileFailed):
            failed[seq] = item.error
            log.warning("%s: cannot be read, retried next run: %s", report.source_file, item.error)
            continue
        if isinstance(item, _FileEnd):
            report.finished_at = _utcnow()
            if item.waiting is not None:
                waiting[seq] = item.waiting
            continue
        lines_read += item.lines.num_rows + len(item.rejected)
        report.blank_lines += item.blank_lines
        run.reject(report, item.rejected)
        if item.lines.num_rows:
            pending.append(_tagged(item, seq, report.source_file))
            pending_rows += item.lines.num_rows
        if pending_rows >= BATCH_LINES:
            flush()
    flush()
    for seq, error in failed.items():
        reports[seq] = FileReport(reports[seq].source_file, error=error)
    run_report.waiting_files = {reports[seq].source_file: why for seq, why in waiting.items()}
    run_report.files = [reports[seq] for seq in range(len(files)) if seq not in waiting]
    return {seq: reports[seq].source_file for seq in (*waiting, *failed)}
