"""The lake's event id index: which event ids committed runs landed, so that the lake holds each
event_id once across runs (the first committed copy wins; later copies are duplicates).

`_event_ids/part-<run_id>.parquet` holds the ids a run landed, as the two halves of their
128-bit hash (`md5_number(event_id)`, the dedup key of ingestion.validate). A run writes it
after its data files and before its ingestion log, so it is committed with the run: the id file
of a run that died before its commit is an orphan, deleted with the run's data files. Runs
committed before the index existed get theirs derived from their event files, once.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from ingestion.lake import EVENT_IDS_PREFIX, EVENTS_PREFIX, event_ids_key, run_id_of
from ingestion.storage import Storage

log = logging.getLogger("paw.ingestion")

# The 128-bit dedup key from its two halves, and back.
KEY_OF_HALVES = "(id_hash_high::uhugeint << 64) | id_hash_low::uhugeint"
HALVES_OF_KEY = (
    "(k >> 64)::ubigint as id_hash_high, "
    "(k & 18446744073709551615::uhugeint)::ubigint as id_hash_low"
)
COPY_BYTES = 8 * 1024 * 1024  # a lake file is copied to the run's work folder in pieces this big


def write_id_file(con: duckdb.DuckDBPyConnection, event_files: list[Path], out: Path) -> int:
    """The hashed ids of `event_files` (Parquet with an event_id column) into `out`."""
    files = ", ".join(_sql_string(str(path)) for path in event_files)
    keys = f"select md5_number(event_id) as k from read_parquet([{files}])"
    return copy_id_file(con, keys if event_files else "select null::uhugeint as k limit 0", out)


def copy_id_file(con: duckdb.DuckDBPyConnection, keys_sql: str, out: Path) -> int:
    """The 128-bit keys `keys_sql` selects (as k) into the id file `out`, streamed by DuckDB:
    a run's ids handed over as one Arrow table took 16 bytes an event beyond DuckDB's memory
    limit (1.4 GB for the 89M events of the 100m benchmark)."""
    [(rows,)] = con.execute(
        f"copy (select {HALVES_OF_KEY} from ({keys_sql})) "
        f"to {_sql_string(str(out))} (format parquet, compression zstd)"
    ).fetchall()
    return rows


def committed_id_files(
    lake: Storage, committed: Iterable[str], con: duckdb.DuckDBPyConnection, work_dir: Path
) -> Iterator[Path]:
    """Each committed run's id file as a local copy in `work_dir` (removed once the caller is
    done with it), deriving (and storing) the id file of a run committed before the index
    existed from that run's event files."""
    committed = set(committed)
    indexed = {
        run_id_of(obj.key): obj.key
        for obj in lake.list(EVENT_IDS_PREFIX)
        if run_id_of(obj.key) in committed
    }
    local = work_dir / "committed-ids.parquet"
    for key in indexed.values():
        _download(lake, key, local)
        yield local
        local.unlink()
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
        event_files = []
        for n, key in enumerate(keys):
            path = work_dir / f"legacy-{n}.parquet"
            _download(lake, key, path)
            event_files.append(path)
        write_id_file(con, event_files, local)
        for path in event_files:
            path.unlink()
        yield local
        lake.write_atomic(event_ids_key(run_id), local)  # moves `local` (or uploads it)
        local.unlink(missing_ok=True)


def _download(storage: Storage, key: str, path: Path) -> None:
    with storage.open_read(key) as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst, COPY_BYTES)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
