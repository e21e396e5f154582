"""The warehouse checks beyond dbt's tests, driven into both branches on small DuckDB files."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.warehouse.assets import _drift, _duplicates, _volume

STAGED_AT = "2024-03-10 02:00:00"


def _warehouse(
    path: Path, days: dict[str, int], names=("clicked",), keys=("x",), staged_at=STAGED_AT
) -> Path:
    """A file holding staging.stg_events with `days[date]` events a day, staged at
    `staged_at`, and the property-key catalog of those events (int_event_property_keys)."""
    con = duckdb.connect(str(path))
    con.execute("create schema staging")
    con.execute(
        "create table staging.stg_events (event_id varchar, event_date date, "
        "event_name varchar, properties varchar, built_at timestamp)"
    )
    properties = "{" + ", ".join(f'"{k}": 1' for k in keys) + "}"
    n = 0
    for day, count in days.items():
        for i in range(count):
            name = names[i % len(names)]
            con.execute(
                "insert into staging.stg_events values (?, ?, ?, ?, ?)",
                [f"e{n}", day, name, properties, staged_at],
            )
            n += 1
    con.execute("create schema intermediate")
    con.execute(
        "create table intermediate.int_event_property_keys as "
        "select distinct event_name, unnest(json_keys(properties)) as property_key "
        "from staging.stg_events"
    )
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
    # a published warehouse from before the property-key catalog: a baseline, not all new
    older = _warehouse(tmp_path / "older.duckdb", week)
    with duckdb.connect(str(older)) as con:
        con.execute("drop table intermediate.int_event_property_keys")
    result = _drift(same, _open(older))
    assert result.passed and result.description.startswith("baseline")

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
    assert not _duplicates(_open(path), None).passed
    assert _duplicates(_open(_warehouse(tmp_path / "ok.duckdb", week)), None).passed


def test_duplicates_are_looked_for_among_the_rows_staged_since_the_published_warehouse(
    tmp_path: Path, week
):
    """A new row repeating an old id fails; a repeat among the published rows (which passed
    the check when they were published) is not looked for again; a build whose every row was
    staged again (a full refresh) is checked whole."""
    published = _open(_warehouse(tmp_path / "published.duckdb", week))

    def build(name: str, *inserts: str) -> duckdb.DuckDBPyConnection:
        path = _warehouse(tmp_path / name, week)
        with duckdb.connect(str(path)) as con:
            for sql in inserts:
                con.execute(sql)
        return _open(path)

    new_row = "insert into staging.stg_events values ('{}', '2024-03-09', 'clicked', null, '{}')"
    tonight = "2024-03-11 02:00:00"
    result = _duplicates(build("clean.duckdb", new_row.format("new", tonight)), published)
    assert result.passed and result.metadata["rows_checked"].value == 1
    result = _duplicates(build("repeat.duckdb", new_row.format("e3", tonight)), published)
    assert not result.passed and result.metadata["duplicates"].value == 1
    old_repeat = new_row.format("e3", STAGED_AT)
    result = _duplicates(build("old.duckdb", old_repeat, new_row.format("new", tonight)), published)
    assert result.passed and result.metadata["rows_checked"].value == 1
    refreshed = build(
        "refreshed.duckdb", old_repeat, f"update staging.stg_events set built_at = '{tonight}'"
    )
    result = _duplicates(refreshed, published)
    assert not result.passed and result.metadata["rows_checked"].value == 81


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
