"""Shared fixtures: a paw environment in a temp folder, and helpers to write landing files."""

from __future__ import annotations

import gzip
import json
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from ingestion.lake import INGESTION_LOG_PREFIX, PART_FILE_PATTERN
from paw.settings import Settings

# The test files whose runs take longest, first. `make test` runs files on two workers in this
# order (--no-loadscope-reorder). xdist's default order, most tests first, started these
# last: one ran alone for the last minute or two of `make test`, with the other worker idle.
LONGEST_FIRST = (
    "test_orchestration.py",
    "test_incremental.py",
    "test_dbt.py",
    "test_crash_recovery.py",
    "test_quickstart.py",
    "test_s3.py",
    "test_dbt_macros.py",
    "test_compaction.py",
    "test_usage.py",
    "test_bench.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """Tests run with the signals of a process started in the foreground, however the suite was
    started. A shell starts a command in the background (`make test &`, some CI runners) with
    SIGINT ignored; Dagster, running a job in the main thread, gives SIGTERM SIGINT's handler
    (dagster/_utils/interrupts.py), so that every process the worker starts afterwards ignores
    SIGTERM. The `tail -F` that mirrors a step's compute log is then not ended by terminate():
    Dagster waits 30 s for each and leaves it running (seen in test_writer_pool.py: 70 s instead
    of 10, and two orphaned `tail` processes after each run of the suite)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@dataclass
class PawEnv:
    root: Path
    settings: Settings

    @property
    def landing(self) -> Path:
        return Path(self.settings.landing_url)

    @property
    def lake(self) -> Path:
        return Path(self.settings.lake_url)

    def write_lines(self, name: str, lines: Iterable[str | bytes | dict]) -> Path:
        """A landing file with one line per item (dicts are serialised), gzip for .gz names."""
        parts = []
        for line in lines:
            if isinstance(line, dict):
                line = json.dumps(line)
            parts.append(line if isinstance(line, bytes) else line.encode())
        data = b"\n".join(parts) + b"\n"
        path = self.landing / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        return path

    def lake_events(self, where: str = "true") -> list[dict]:
        return query_lake(self.lake, f"select * from events where {where} order by event_id")

    def quarantine(self) -> list[dict]:
        return query_lake(self.lake, "select * from quarantine order by source_file, line_number")


def query_lake(lake: Path, sql: str) -> list[dict]:
    """Read the lake as its readers do: only files of committed runs."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    runs = f"(select run_id from read_parquet('{lake}/{INGESTION_LOG_PREFIX}*.parquet'))"
    for name in ("events", "quarantine"):
        files = list((lake / name).glob("*/*.parquet"))
        if files:
            con.execute(
                f"create view {name} as select * from read_parquet('{lake}/{name}/*/*.parquet', "
                f"hive_partitioning = true, filename = true, union_by_name = true) "
                f"where regexp_extract(filename, '{PART_FILE_PATTERN}', 1) in {runs}"
            )
        else:
            con.execute(f"create view {name} as select null as event_id where false")
    rel = con.sql(sql)
    return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]


def local_env(root: Path) -> dict[str, str]:
    """The variables of a paw whose landing zone, lake and warehouse live below `root`: the one
    environment every test builds on."""
    return {
        "PAW_LANDING_URL": str(root / "landing"),
        "PAW_LAKE_URL": str(root / "lake"),
        "PAW_WAREHOUSE": str(root / "warehouse" / "paw.duckdb"),
    }


@pytest.fixture
def paw_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PawEnv:
    env = local_env(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "landing").mkdir()
    return PawEnv(tmp_path, Settings.from_env(env))


def event(**fields) -> dict:
    """A valid track event, overridden by `fields` (None removes a field)."""
    base = {
        "type": "track",
        "event": "clicked",
        "messageId": "m1",
        "userId": "u1",
        "timestamp": "2024-03-01T10:00:00Z",
        "properties": {"x": 1},
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}
