"""Deduplication: an event id lands in the lake once. Ids that committed runs landed
(ingestion.event_ids) are remembered first; within the run the first copy in file, line and
batch order wins. Every later copy is counted as a duplicate."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.contract import EVENT_SCHEMA
from ingestion.event_ids import KEY_OF_HALVES, copy_id_file


class FirstCopies:
    """The ids landed so far, by committed runs and this one, as 128-bit hashes in DuckDB (20
    bytes an event, spilled to disk beyond the connection's memory limit). This run's carry the
    file they came from (`file_seq`), so that the run's id index is written from them."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.con.execute("create temp table seen (k uhugeint, file_seq integer)")

    def remember(self, id_file: Path) -> None:
        """Ids landed by a committed run (its id file): copies are duplicates."""
        self.con.execute(
            f"insert into seen select {KEY_OF_HALVES}, null from read_parquet(?)", [str(id_file)]
        )

    def take(self) -> pa.Table:
        """The events of `judged` not landed before in this run, with file_seq and event_date,
        ordered by event_date; their ids are then remembered.

        Every join builds its hash table on the batch's side, never on `seen` (one row per
        event of the run), and the window that picks the first copy sees only the ids that
        occur more than once in the batch.
        """
        columns = ", ".join(EVENT_SCHEMA.names)
        self.con.execute(
            """
            create or replace temp table repeated as
            with batch_keys as (
                select k, count(*) as copies from judged where is_event group by k
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
                    where judged.is_event
                )
                where landed_before or copy_rank > 1
            )
            select {columns}, file_seq, event_timestamp::date as event_date
            from judged
            where is_event
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
            "insert into seen select k, min(file_seq) from judged where is_event "
            "and k not in (select k from repeated where landed_before) "
            "group by k"
        )
        return kept

    def write_landed_ids(self, out: Path, withdrawn_seqs: set[int]) -> int:
        """The run's id index: the ids it landed, but for the files it withdrew, into `out`."""
        # Literal integers, not a list parameter: DuckDB re-reads a list parameter on every row.
        withdrawn = "".join(f" and file_seq <> {int(seq)}" for seq in sorted(withdrawn_seqs))
        landed = f"select k from seen where file_seq is not null{withdrawn}"
        return copy_id_file(self.con, landed, out)
