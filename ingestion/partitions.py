"""The run's event files: a Parquet file per event date (more for a date of many row groups),
written from bounded buffers."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.contract import EVENT_SCHEMA

FLUSH_BYTES = 64 * 1024 * 1024  # buffered event rows before the largest partitions are written
ROW_GROUP_ROWS = 1_000_000
# An open Parquet writer holds about 16 KB for each row group it wrote until it is closed, and a
# flush adds a row group to each date it holds: at 100M events a run wrote 14,000 row groups into
# its 84 date files, 230 MB held to the end. A date's file is closed after this many row groups
# and its next rows start another file, so that what the writers hold is bounded by the number
# of dates, not by the run's size.
ROW_GROUPS_PER_FILE = 32


class PartitionWriter:
    """Buffers event rows per event date and writes the run's Parquet files of each date (one,
    unless the date fills more than `row_groups_per_file` row groups).

    The Parquet files are encoded and compressed in a thread of their own, while the run
    validates its next lines (pyarrow releases the GIL): in the caller's thread it took 1.2 s
    of a 9.4 s ingestion of 1M events. One flush is written at a time, in order."""

    def __init__(
        self,
        work_dir: Path,
        flush_bytes: int = FLUSH_BYTES,
        row_groups_per_file: int = ROW_GROUPS_PER_FILE,
    ) -> None:
        self.work_dir = work_dir
        self.flush_bytes = flush_bytes
        self.row_groups_per_file = row_groups_per_file
        self.buffers: dict[str, list[pa.Table]] = {}
        self.buffered_bytes = 0
        self.files: dict[str, list[Path]] = {}  # each date's files, the open one last
        self.writers: dict[str, pq.ParquetWriter] = {}  # each date's open file
        self.row_groups: dict[str, int] = {}  # written to each date's open file
        self.encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paw-parquet")
        self.writing: Future | None = None

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
        if self.buffered_bytes > self.flush_bytes:
            # Every date at once: a buffered part is a slice that keeps its whole batch alive,
            # so writing only the largest dates would free much less than it counts.
            self._flush_all()

    def _flush_all(self) -> None:
        """Hand every buffered date to the encoder thread, once the previous flush is written
        (so that at most one flush's rows are held beyond the buffers)."""
        self._wait()
        tables = []
        for day in list(self.buffers):
            table = pa.concat_tables(self.buffers.pop(day)).cast(EVENT_SCHEMA)
            tables.append((self._writer(day, table.num_rows), table))
        self.buffered_bytes = 0
        self.writing = self.encoder.submit(_write_tables, tables)

    def _writer(self, day: str, rows: int) -> pq.ParquetWriter:
        """The date's open file for `rows` more rows: a new one once it holds its share of row
        groups (called between flushes, when no write is under way)."""
        writer = self.writers.get(day)
        if writer is not None and self.row_groups[day] >= self.row_groups_per_file:
            writer.close()
            writer = None
        if writer is None:
            files = self.files.setdefault(day, [])
            path = self.work_dir / f"events-{day}-{len(files)}.parquet"
            files.append(path)
            writer = pq.ParquetWriter(path, EVENT_SCHEMA, compression="zstd", compression_level=1)
            self.writers[day] = writer
            self.row_groups[day] = 0
        self.row_groups[day] += -(-rows // ROW_GROUP_ROWS)
        return writer

    def _wait(self) -> None:
        """Wait for the flush being written; its error, if any, is raised here."""
        if self.writing is not None:
            writing, self.writing = self.writing, None
            writing.result()

    def close(self, withdrawn: set[str]) -> dict[str, list[Path]]:
        """Write what is buffered; each date's event files, in the order of their rows, without
        the rows of the source files in `withdrawn` (read but not to be committed by this run)."""
        try:
            self._flush_all()
            self._wait()
        finally:
            self.encoder.shutdown()
        for writer in self.writers.values():
            writer.close()
        files = {day: self.files[day] for day in sorted(self.files)}
        if withdrawn:
            files = {
                day: kept
                for day, paths in files.items()
                if (kept := [path for path in paths if without_sources(path, withdrawn)])
            }
        return files


def _write_tables(tables: list[tuple[pq.ParquetWriter, pa.Table]]) -> None:
    for writer, table in tables:
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)


def without_sources(path: Path, withdrawn: set[str]) -> bool:
    """Rewrite a Parquet file without the rows of these source files (a rare path: only when a
    file changed while it was read); False when nothing is left."""
    table = pq.read_table(path)
    kept = table.filter(
        pc.invert(pc.is_in(table.column("source_file"), pa.array(sorted(withdrawn))))
    )
    if kept.num_rows == table.num_rows:
        return True
    path.unlink()
    if kept.num_rows == 0:
        return False
    pq.write_table(kept, path, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return True
