"""The warehouse checks beyond dbt's tests, driven into both branches on small DuckDB files."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.warehouse.assets import _drift, _duplicates, _volume


def _warehouse(path: Path, days: dict[str, int], names=("clicked",), keys=("x",)) -> Path:
    """A file holding staging.stg_events with `days[date]` events a day."""
    con = duckdb.connect(str(path))
    con.execute("create schema staging")
    con.execute(
        "create table staging.stg_events "
        "(event_id varchar, event_date date, event_name varchar, properties varchar)"
    )
    properties = "{" + ", ".join(f'"{k}": 1' for k in keys) + "}"
    n = 0
    for day, count in days.items():
        for i in range(count):
            name = names[i % len(names)]
            con.execute(
                "insert into staging.stg_events values (?, ?, ?, ?)",
                [f"e{n}", day, name, properties],
            )
            n += 1
    con.close()
    return path


@pytest.fixture
def week() -> dict[str, int]:
    return {f"2024-03-0{d}": 10 for d in range(1, 9)}


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def test_volume_passes_when_steady_and_warns_on_a_drop_or_a_shrink(tmp_path: Path, week):
    steady = _open(_warehouse(tmp_path / "steady.duckdb", week))
    result = _volume(steady, None)
    assert result.passed

    dropped = _open(_warehouse(tmp_path / "drop.duckdb", {**week, "2024-03-09": 2}))
    result = _volume(dropped, None)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert "under half" in result.description

    smaller = _open(_warehouse(tmp_path / "smaller.duckdb", dict(list(week.items())[:4])))
    result = _volume(smaller, steady)
    assert not result.passed and "shrank" in result.description


def test_schema_drift_reports_new_names_and_keys(tmp_path: Path, week):
    old = _open(_warehouse(tmp_path / "old.duckdb", week))
    same = _open(_warehouse(tmp_path / "same.duckdb", week))
    assert _drift(same, old).passed
    assert _drift(same, None).passed  # a baseline

    new = _open(
        _warehouse(tmp_path / "new.duckdb", week, names=("clicked", "shared"), keys=("x", "y"))
    )
    result = _drift(new, old)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["new_event_names"].value == ["shared"]
    assert sorted(result.metadata["new_property_keys"].value) == [
        "clicked.y",
        "shared.x",
        "shared.y",
    ]


def test_duplicate_ids_fail(tmp_path: Path, week):
    path = _warehouse(tmp_path / "dupes.duckdb", week)
    con = duckdb.connect(str(path))
    con.execute("insert into staging.stg_events select * from staging.stg_events limit 1")
    con.close()
    assert not _duplicates(_open(path)).passed
    assert _duplicates(_open(_warehouse(tmp_path / "ok.duckdb", week))).passed


def test_volume_compares_a_quiet_weekday_with_the_same_weekday(tmp_path: Path):
    """Sundays run at a third of weekdays: a Sunday like the Sundays before passes, one at
    under half of them warns."""
    from datetime import date, timedelta

    start = date(2024, 3, 4)  # a Monday

    def days(last_sunday: int) -> dict[str, int]:
        counts = {}
        for i in range(28):
            day = start + timedelta(days=i)
            counts[day.isoformat()] = 9 if day.weekday() == 6 else 30
        counts[(start + timedelta(days=27)).isoformat()] = last_sunday
        return counts

    usual = _open(_warehouse(tmp_path / "usual.duckdb", days(last_sunday=9)))
    assert _volume(usual, None).passed
    quiet = _open(_warehouse(tmp_path / "quiet.duckdb", days(last_sunday=4)))
    result = _volume(quiet, None)
    assert not result.passed and "for that weekday" in result.description
