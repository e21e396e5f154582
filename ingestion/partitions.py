"""The run's event files: one Parquet file per event date, written from bounded buffers."""

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


class PartitionWriter:
    """Buffers event rows per event date and writes one Parquet file per date for the run.

    The Parquet files are encoded and compressed in a thread of their own, while the run
    validates its next lines (pyarrow releases the GIL): in the caller's thread it took 1.2 s
    of a 9.4 s ingestion of 1M events. One flush is written at a time, in order."""

    def __init__(self, work_dir: Path, flush_bytes: int = FLUSH_BYTES) -> None:
        self.work_dir = work_dir
        self.flush_bytes = flush_bytes
        self.buffers: dict[str, list[pa.Table]] = {}
        self.buffered_bytes = 0
        self.writers: dict[str, pq.ParquetWriter] = {}
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

    def _path(self, day: str) -> Path:
        return self.work_dir / f"events-{day}.parquet"

    def _flush_all(self) -> None:
        """Hand every buffered date to the encoder thread, once the previous flush is written
        (so that at most one flush's rows are held beyond the buffers)."""
        self._wait()
        tables = []
        for day in list(self.buffers):
            parts = self.buffers.pop(day)
            tables.append((self._writer(day), pa.concat_tables(parts).cast(EVENT_SCHEMA)))
        self.buffered_bytes = 0
        self.writing = self.encoder.submit(_write_tables, tables)

    def _writer(self, day: str) -> pq.ParquetWriter:
        writer = self.writers.get(day)
        if writer is None:
            writer = pq.ParquetWriter(
                self._path(day), EVENT_SCHEMA, compression="zstd", compression_level=1
            )
            self.writers[day] = writer
        return writer

    def _wait(self) -> None:
        """Wait for the flush being written; its error, if any, is raised here."""
        if self.writing is not None:
            writing, self.writing = self.writing, None
            writing.result()

    def close(self, withdrawn: set[str]) -> dict[str, Path]:
        """Write what is buffered; the event files by date, without the rows of the source
        files in `withdrawn` (read but not to be committed by this run)."""
        try:
            self._flush_all()
            self._wait()
        finally:
            self.encoder.shutdown()
        for writer in self.writers.values():
            writer.close()
        files = {day: self._path(day) for day in sorted(self.writers)}
        if withdrawn:
            for day, path in list(files.items()):
                if not without_sources(path, withdrawn):
                    del files[day]
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
