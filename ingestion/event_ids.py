"""The lake's event id index: which event ids committed runs landed, so that the lake holds each
event_id once across runs (the first committed copy wins; later copies are duplicates).

`_event_ids/part-<run_id>.parquet` holds the ids a run landed, as the two halves of their
128-bit hash (`md5_number(event_id)`, the dedup key of ingestion.validate). A run writes it
after its data files and before its ingestion log, so it is committed with the run: the id file
of a run that died before its commit is an orphan, deleted with the run's data files. Runs
committed before the index existed get theirs derived from their event files, once.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.contract import empty_table
from ingestion.lake import EVENT_IDS_PREFIX, EVENTS_PREFIX, event_ids_key, run_id_of
from ingestion.storage import Storage

log = logging.getLogger("paw.ingestion")

ID_HASH_SCHEMA = pa.schema([("id_hash_high", pa.uint64()), ("id_hash_low", pa.uint64())])
# The 128-bit dedup key from its two halves, and back.
KEY_OF_HALVES = "(id_hash_high::uhugeint << 64) | id_hash_low::uhugeint"
HALVES_OF_KEY = (
    "(k >> 64)::ubigint as id_hash_high, "
    "(k & 18446744073709551615::uhugeint)::ubigint as id_hash_low"
)


def write_id_file(con: duckdb.DuckDBPyConnection, event_files: list[Path], out: Path) -> int:
    """The hashed ids of `event_files` (Parquet with an event_id column) into `out`."""
    if event_files:
        rel = con.sql(
            f"select {HALVES_OF_KEY} from ("
            "select md5_number(event_id) as k from read_parquet($files))",
            params={"files": [str(p) for p in event_files]},
        )
        table = rel.to_arrow_table()
    else:
        table = empty_table(ID_HASH_SCHEMA)
    return write_id_table(table, out)


def write_id_table(ids: pa.Table, out: Path) -> int:
    """Hashed ids (id_hash_high, id_hash_low) as an id file."""
    pq.write_table(ids.cast(ID_HASH_SCHEMA), out, compression="zstd")
    return ids.num_rows


def committed_id_tables(
    lake: Storage, committed: Iterable[str], con: duckdb.DuckDBPyConnection, work_dir: Path
) -> Iterable[pa.Table]:
    """Each committed run's hashed ids, deriving (and storing) the id file of a run committed
    before the index existed from that run's event files."""
    committed = set(committed)
    indexed = {
        run_id_of(obj.key): obj.key
        for obj in lake.list(EVENT_IDS_PREFIX)
        if run_id_of(obj.key) in committed
    }
    for key in indexed.values():
        yield pq.read_table(io.BytesIO(lake.read_bytes(key))).cast(ID_HASH_SCHEMA)
    missing = committed - set(indexed)
    if not missing:
        return
    files_of: dict[str, list[str]] = {run_id: [] for run_id in missing}
    for obj in lake.list(EVENTS_PREFIX):
        run_id = run_id_of(obj.key)
        if run_id in files_of:
            files_of[run_id].append(obj.key)
    log.info("deriving the event id index of %d run(s) committed before it existed", len(missing))
    for run_id, keys in sorted(files_of.items()):
        local = []
        for n, key in enumerate(keys):
            path = work_dir / f"legacy-{n}.parquet"
            path.write_bytes(lake.read_bytes(key))
            local.append(path)
        out = work_dir / "legacy-ids.parquet"
        write_id_file(con, local, out)
        ids = pq.read_table(out)
        lake.write_atomic(event_ids_key(run_id), out)  # moves `out` (or uploads it)
        for path in local:
            path.unlink()
        out.unlink(missing_ok=True)
        yield ids
