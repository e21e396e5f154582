"""The run's event files: one Parquet file per event date, written from bounded buffers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.contract import EVENT_SCHEMA

FLUSH_BYTES = 96 * 1024 * 1024  # buffered event rows before the largest partitions are written
ROW_GROUP_ROWS = 1_000_000


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
            # Every date at once: a buffered part is a slice that keeps its whole batch alive,
            # so writing only the largest dates would free much less than it counts.
            for day in list(self.buffers):
                self._flush(day)

    def _path(self, day: str) -> Path:
        return self.work_dir / f"events-{day}.parquet"

    def _flush(self, day: str) -> None:
        parts = self.buffers.pop(day, [])
        if not parts:
            return
        table = pa.concat_tables(parts).cast(EVENT_SCHEMA)
        self.buffered_bytes -= sum(t.nbytes for t in parts)
        writer = self.writers.get(day)
        if writer is None:
            writer = pq.ParquetWriter(
                self._path(day), EVENT_SCHEMA, compression="zstd", compression_level=1
            )
            self.writers[day] = writer
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def close(self, withdrawn: set[str]) -> dict[str, Path]:
        """Write what is buffered; the event files by date, without the rows of the source
        files in `withdrawn` (read but not to be committed by this run)."""
        for day in list(self.buffers):
            self._flush(day)
        for writer in self.writers.values():
            writer.close()
        files = {day: self._path(day) for day in sorted(self.writers)}
        if withdrawn:
            for day, path in list(files.items()):
                if not without_sources(path, withdrawn):
                    del files[day]
        return files


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
