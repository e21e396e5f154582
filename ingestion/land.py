"""land_events: landing zone → validated, deduplicated, date-partitioned Parquet in the lake."""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.contract import (
    EVENT_SCHEMA,
    LANDING_SUFFIXES,
    MANIFEST_SCHEMA,
    QUARANTINE_SCHEMA,
    Reason,
)
from ingestion.lake import (
    LOCK_KEY,
    committed_runs,
    event_key,
    manifest_key,
    new_run_id,
    orphan_keys,
    processed_files,
    quarantine_key,
    read_manifest,
)
from ingestion.reader import (
    BLOCK_BYTES,
    CorruptFileError,
    HashingReader,
    LineChunk,
    Rejected,
    expand_envelope,
    read_chunks,
)
from ingestion.storage import (
    ObjectInfo,
    Storage,
    clear_stale_staging,
    open_storage,
    staging_dir,
)
from ingestion.validate import ChunkValidator
from paw.settings import Settings

log = logging.getLogger("paw.ingestion")

FLUSH_BYTES = 96 * 1024 * 1024  # buffered event rows before the largest partitions are written
DUCKDB_MEMORY_LIMIT = "768MB"


@dataclass
class FileReport:
    source_file: str
    size_bytes: int = 0
    content_hash: str = ""
    lines_read: int = 0
    blank_lines: int = 0
    events_landed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    reasons: Counter = field(default_factory=Counter)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def reconciles(self) -> bool:
        return self.lines_read == self.events_landed + self.quarantined + self.duplicates


@dataclass
class IngestionReport:
    run_id: str
    files: list[FileReport] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    orphans_removed: int = 0
    written_keys: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def lines_read(self) -> int:
        return self.total("lines_read")

    @property
    def events_landed(self) -> int:
        return self.total("events_landed")

    @property
    def quarantined(self) -> int:
        return self.total("quarantined")

    @property
    def duplicates(self) -> int:
        return self.total("duplicates")

    @property
    def reasons(self) -> Counter:
        total: Counter = Counter()
        for f in self.files:
            total.update(f.reasons)
        return total

    @property
    def reconciles(self) -> bool:
        return all(f.reconciles for f in self.files)

    def summary(self) -> str:
        rate = self.lines_read / self.seconds if self.seconds else 0.0
        lines = [
            f"ingestion run {self.run_id}: {len(self.files)} new file(s), "
            f"{len(self.skipped_files)} already ingested, {self.seconds:.1f}s "
            f"({rate:,.0f} events/s)",
            f"  read {self.lines_read:,} = landed {self.events_landed:,} + quarantined "
            f"{self.quarantined:,} + duplicates {self.duplicates:,}"
            + ("" if self.reconciles else "  ** DOES NOT RECONCILE **"),
        ]
        if self.reasons:
            by_reason = ", ".join(f"{r} {n:,}" for r, n in self.reasons.most_common())
            lines.append(f"  quarantine reasons: {by_reason}")
        if self.ignored_files:
            lines.append(
                f"  ignored {len(self.ignored_files)} file(s) that are not "
                f"{'/'.join(LANDING_SUFFIXES)}[.gz]: {', '.join(self.ignored_files[:5])}"
            )
        return "\n".join(lines)


class PartitionWriter:
    """Buffers event rows per event date and writes one Parquet file per date for the run."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.buffers: dict[str, list[pa.Table]] = {}
        self.buffered_bytes = 0
        self.writers: dict[str, pq.ParquetWriter] = {}

    def add(self, rows: pa.Table) -> None:
        """`rows` is ordered by event_date and carries it as its last column."""
        if rows.num_rows == 0:
            return
        dates = rows.column("event_date").to_numpy()
        cuts = np.flatnonzero(dates[1:] != dates[:-1]) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [rows.num_rows]])
        body = rows.drop_columns(["event_date"])
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            day = str(dates[start])
            part = body.slice(start, end - start)
            self.buffers.setdefault(day, []).append(part)
            self.buffered_bytes += part.nbytes
        if self.buffered_bytes > FLUSH_BYTES:
            for day in sorted(self.buffers, key=lambda d: -sum(t.nbytes for t in self.buffers[d])):
                self._flush(day)
                if self.buffered_bytes <= FLUSH_BYTES // 2:
                    break

    def _flush(self, day: str) -> None:
        parts = self.buffers.pop(day, [])
        if not parts:
            return
        table = pa.concat_tables(parts).cast(EVENT_SCHEMA)
        self.buffered_bytes -= sum(t.nbytes for t in parts)
        writer = self.writers.get(day)
        if writer is None:
            writer = pq.ParquetWriter(
                self.work_dir / f"events-{day}.parquet",
                EVENT_SCHEMA,
                compression="zstd",
                compression_level=1,
            )
            self.writers[day] = writer
        writer.write_table(table, row_group_size=1_000_000)

    def close(self) -> dict[str, Path]:
        for day in list(self.buffers):
            self._flush(day)
        for writer in self.writers.values():
            writer.close()
        return {day: self.work_dir / f"events-{day}.parquet" for day in sorted(self.writers)}


T = TypeVar("T")


def _prefetch(items: Iterable[T]) -> Iterator[T]:
    """Produce the next item in a thread while the caller works on this one (reading and
    decompressing overlap with validation, which releases the GIL inside DuckDB)."""
    q: queue.Queue = queue.Queue(maxsize=1)
    done = object()

    def produce() -> None:
        try:
            for item in items:
                q.put(item)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)
        q.put(done)

    threading.Thread(target=produce, daemon=True).start()
    while True:
        item = q.get()
        if item is done:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


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
        }
    )


class _Run:
    """State of one ingestion run: the DuckDB session, the writers and the seen ids."""

    def __init__(self, lake: Storage, run_id: str, work_dir: Path) -> None:
        self.lake = lake
        self.run_id = run_id
        self.ingested_at = datetime.now(UTC).replace(tzinfo=None)
        self.work_dir = work_dir
        self.con = duckdb.connect()
        self.con.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        self.con.execute(f"set temp_directory = '{work_dir / 'duckdb'}'")
        self.con.execute("set preserve_insertion_order = false")
        self.con.execute("set enable_progress_bar = false")
        # Ids already landed in this run, as 128-bit hashes: a few bytes an event.
        self.con.execute("create temp table seen (k uhugeint)")
        self.validator = ChunkValidator(self.con)
        self.events = PartitionWriter(work_dir)
        self.quarantine_path = work_dir / "quarantine.parquet"
        self.quarantine = pq.ParquetWriter(
            self.quarantine_path, QUARANTINE_SCHEMA, compression="zstd"
        )

    def reject(self, report: FileReport, rejected: list[Rejected]) -> None:
        """Lines refused before validation (undecodable bytes, bad envelopes)."""
        if not rejected:
            return
        self._quarantine(_rejected_table(rejected, report.source_file, self.ingested_at))
        report.lines_read += len(rejected)
        report.quarantined += len(rejected)
        report.reasons.update(str(r.reason) for r in rejected)

    def process(self, lines: pa.Table, reports: dict[int, FileReport]) -> None:
        """Validate, deduplicate and buffer a batch of lines from one or more files."""
        if lines.num_rows == 0:
            return
        self.validator.validate_into(lines, self.ingested_at, "judged")
        bad = self.con.execute(
            "select file_seq, source_file, line_number, batch_index, reason, error, raw_line, "
            "raw_bytes, ingested_at from judged where reason is not null and not is_envelope"
        ).to_arrow_table()
        counts = self.con.execute(
            """
            select
                file_seq,
                count(*) filter (where not is_envelope) as lines_read,
                count(*) filter (where reason is null) as valid,
                list(line_number) filter (where is_envelope) as envelopes
            from judged group by file_seq
            """
        ).fetchall()
        landed = self._land_valid()
        if bad.num_rows:
            self._quarantine(bad.drop_columns(["file_seq"]))
        for seq, reason in zip(
            bad.column("file_seq").to_pylist(), bad.column("reason").to_pylist(), strict=True
        ):
            reports[seq].reasons[reason] += 1
            reports[seq].quarantined += 1
        for file_seq, lines_read, valid, envelopes in counts:
            report = reports[file_seq]
            kept = landed.get(file_seq, 0)
            report.lines_read += lines_read
            report.events_landed += kept
            report.duplicates += valid - kept
            if envelopes:
                self._expand_envelopes(lines, file_seq, envelopes, reports)

    def _land_valid(self) -> dict[int, int]:
        """Buffer the batch's valid events not landed before in this run (the first copy in
        file, line and batch order wins); the landed count per file.

        Every join here builds its hash table on the batch's side, never on `seen` (which grows
        to one row per event of the run), and the window that picks the first copy sees only
        the ids that occur more than once in the batch.
        """
        columns = ", ".join(EVENT_SCHEMA.names)
        self.con.execute(
            """
            create or replace temp table repeated as
            with batch_keys as (
                select k, count(*) as copies from judged where reason is null group by k
            )
            select batch_keys.k, batch_keys.copies, seen.k is not null as landed_before
            from batch_keys
            left join seen on batch_keys.k = seen.k
            where batch_keys.copies > 1 or seen.k is not null
            """
        )
        kept = self.con.execute(
            f"""
            with losing_copies as (
                select file_seq, line_number, batch_index
                from (
                    select
                        judged.file_seq,
                        judged.line_number,
                        judged.batch_index,
                        repeated.landed_before,
                        row_number() over (
                            partition by judged.k
                            order by judged.file_seq, judged.line_number, judged.batch_index
                        ) as copy_rank
                    from judged
                    inner join repeated on judged.k = repeated.k
                    where judged.reason is null
                )
                where landed_before or copy_rank > 1
            )
            select {columns}, file_seq, event_timestamp::date as event_date
            from judged
            where reason is null
            and not exists (
                select 1 from losing_copies
                where losing_copies.file_seq = judged.file_seq
                and losing_copies.line_number = judged.line_number
                and losing_copies.batch_index is not distinct from judged.batch_index
            )
            order by event_date
            """
        ).to_arrow_table()
        self.con.execute(
            "insert into seen select k from judged where reason is null "
            "and k not in (select k from repeated where landed_before) "
            "group by k"
        )
        landed: dict[int, int] = {}
        if kept.num_rows:
            for row in kept.group_by("file_seq").aggregate([("file_seq", "count")]).to_pylist():
                landed[row["file_seq"]] = row["file_seq_count"]
            self.events.add(kept.drop_columns(["file_seq"]))
        return landed

    def _expand_envelopes(
        self, lines: pa.Table, file_seq: int, numbers: list[int], reports: dict[int, FileReport]
    ) -> None:
        mask = pc.and_(
            pc.equal(lines.column("file_seq"), file_seq),
            pc.is_in(lines.column("line_number"), pa.array(numbers, pa.int64())),
        )
        report = reports[file_seq]
        for row in lines.filter(mask).to_pylist():
            sub = expand_envelope(row["line_number"], orjson.loads(row["line"]))
            self.reject(report, sub.rejected)
            self.process(_tagged(sub, file_seq, report.source_file), reports)

    def _quarantine(self, rows: pa.Table) -> None:
        self.quarantine.write_table(rows.cast(QUARANTINE_SCHEMA))

    def publish(self, reports: list[FileReport]) -> list[str]:
        """Write every file of the run, then the manifest: the commit point."""
        written = []
        for day, path in self.events.close().items():
            key = event_key(day, self.run_id)
            self.lake.write_atomic(key, path)
            written.append(key)
        self.quarantine.close()
        key = quarantine_key(self.ingested_at.strftime("%Y-%m-%d"), self.run_id)
        self.lake.write_atomic(key, self.quarantine_path)
        written.append(key)
        manifest = pa.table(
            {
                "run_id": [self.run_id] * len(reports),
                "source_file": [r.source_file for r in reports],
                "size_bytes": [r.size_bytes for r in reports],
                "content_hash": [r.content_hash for r in reports],
                "lines_read": [r.lines_read for r in reports],
                "blank_lines": [r.blank_lines for r in reports],
                "events_landed": [r.events_landed for r in reports],
                "quarantined": [r.quarantined for r in reports],
                "duplicates": [r.duplicates for r in reports],
                "started_at": [r.started_at for r in reports],
                "finished_at": [r.finished_at for r in reports],
            },
            schema=MANIFEST_SCHEMA,
        )
        sink = pa.BufferOutputStream()
        pq.write_table(manifest, sink, compression="zstd")
        self.lake.write_bytes_atomic(manifest_key(self.run_id), sink.getvalue().to_pybytes())
        written.append(manifest_key(self.run_id))
        return written

    def close(self) -> None:
        self.con.close()


def is_landing_file(key: str) -> bool:
    name = key.rsplit("/", 1)[-1].lower()
    name = name.removesuffix(".gz")
    return name.endswith(LANDING_SUFFIXES)


def _hash_of(storage: Storage, key: str) -> str:
    with storage.open_read(key) as raw:
        reader = HashingReader(raw)
        while reader.read(8 * 1024 * 1024):
            pass
    return reader.sha256.hexdigest()


def _select_new_files(
    landing: Storage, manifest: pa.Table, report: IngestionReport
) -> list[ObjectInfo]:
    processed = processed_files(manifest)
    new = []
    for obj in landing.list():
        if not is_landing_file(obj.key):
            report.ignored_files.append(obj.key)
            continue
        seen = processed.get(obj.key)
        if seen and seen.size_bytes == obj.size and seen.content_hash == _hash_of(landing, obj.key):
            report.skipped_files.append(obj.key)
            continue
        new.append(obj)
    return new


def land_events(
    settings: Settings,
    *,
    block_bytes: int = BLOCK_BYTES,
    landing: Storage | None = None,
    lake: Storage | None = None,
) -> IngestionReport:
    """Ingest every new landing file into the lake, atomically and idempotently.

    `landing` and `lake` default to the storages the settings name.
    """
    started = time.monotonic()
    landing = landing or open_storage(settings.landing_url, settings.s3)
    lake = lake or open_storage(settings.lake_url, settings.s3)
    run_id = new_run_id()
    report = IngestionReport(run_id=run_id)
    with lake.lock(LOCK_KEY, run_id):
        manifest = read_manifest(lake)
        orphans = orphan_keys(lake, committed_runs(manifest))
        for key in orphans:
            lake.delete(key)
        report.orphans_removed = len(orphans)
        if orphans:
            log.warning("removed %d file(s) left by runs that did not commit", len(orphans))
        clear_stale_staging(lake)
        new_files = _select_new_files(landing, manifest, report)
        log.info(
            "run %s: %d new landing file(s) in %s, %d already ingested",
            run_id,
            len(new_files),
            landing.url,
            len(report.skipped_files),
        )
        if not new_files:
            report.seconds = time.monotonic() - started
            return report
        work_dir = staging_dir(lake, run_id)
        run = _Run(lake, run_id, work_dir)
        try:
            report.files = _ingest_files(run, landing, new_files, block_bytes)
            report.written_keys = run.publish(report.files)
        finally:
            run.close()
            shutil.rmtree(work_dir, ignore_errors=True)
    report.seconds = time.monotonic() - started
    log.info(report.summary())
    return report


def _read_files(
    landing: Storage, files: list[ObjectInfo], reports: dict[int, FileReport], block_bytes: int
) -> Iterator[tuple[int, LineChunk | None]]:
    """Chunks of every file in turn; (seq, None) marks the end of file seq."""
    for seq, obj in enumerate(files):
        report = reports[seq]
        report.started_at = datetime.now(UTC).replace(tzinfo=None)
        with landing.open_read(obj.key) as raw:
            reader = HashingReader(raw)
            last_line = 0
            try:
                for chunk in read_chunks(reader, obj.key, obj.size, block_bytes):
                    if chunk.lines.num_rows:
                        last_line = chunk.lines.column("line_number")[-1].as_py()
                    yield seq, chunk
            except CorruptFileError as exc:
                # Keep what was read; the unreadable rest is one quarantine row.
                bad = Rejected(last_line + 1, None, Reason.INVALID_JSON, str(exc), "", 0)
                yield seq, LineChunk(pa.table({}), rejected=[bad])
            while reader.read(8 * 1024 * 1024):
                pass  # hash and size cover the whole file even where reading stopped early
        report.size_bytes = reader.size
        report.content_hash = reader.sha256.hexdigest()
        yield seq, None


BATCH_LINES = 200_000  # lines validated together: small files are pooled, large ones cut


def _ingest_files(
    run: _Run, landing: Storage, files: list[ObjectInfo], block_bytes: int
) -> list[FileReport]:
    reports = {seq: FileReport(source_file=obj.key) for seq, obj in enumerate(files)}
    pending: list[pa.Table] = []
    pending_rows = 0
    finished: list[int] = []

    def flush() -> None:
        nonlocal pending, pending_rows
        if pending:
            run.process(pa.concat_tables(pending), reports)
        pending, pending_rows = [], 0
        now = datetime.now(UTC).replace(tzinfo=None)
        for seq in finished:
            report = reports[seq]
            report.finished_at = now
            log.info(
                "[%d/%d] %s: read %d, landed %d, quarantined %d, duplicates %d",
                seq + 1,
                len(files),
                report.source_file,
                report.lines_read,
                report.events_landed,
                report.quarantined,
                report.duplicates,
            )
        finished.clear()

    for seq, chunk in _prefetch(_read_files(landing, files, reports, block_bytes)):
        if chunk is None:
            finished.append(seq)
            continue
        report = reports[seq]
        report.blank_lines += chunk.blank_lines
        run.reject(report, chunk.rejected)
        if chunk.lines.num_rows:
            pending.append(_tagged(chunk, seq, report.source_file))
            pending_rows += chunk.lines.num_rows
        if pending_rows >= BATCH_LINES:
            flush()
    flush()
    return [reports[seq] for seq in range(len(files))]
