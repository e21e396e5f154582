"""Publishing the warehouse, and the checks on it that go beyond dbt's tests."""

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.pools import WRITER_POOL
from orchestration.resources import PawSettings
from orchestration.warehouse.files import build_path, publish_build

STG_EVENTS = dg.AssetKey(["staging", "stg_events"])
PUBLISHED = dg.AssetKey(["warehouse", "published"])


@contextlib.contextmanager
def read_only(path: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to a warehouse file, closed when the block ends, whatever
    happens in it. It has the configuration every reader in a process has (plain read-only):
    DuckDB refuses a second connection to a file with another configuration, which is why
    dagster-duckdb's DuckDBResource (it adds its own) is not used here."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def published_warehouse_asset(upstream: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    """The publish step, downstream of every asset whose table the warehouse file holds (every
    dbt model and seed: the staging logs as much as the marts)."""

    @dg.asset(
        key=PUBLISHED,
        deps=sorted(upstream, key=lambda k: k.to_user_string()),
        group_name="warehouse",
        kinds={"duckdb"},
        description=(
            "The warehouse analysts query (PAW_WAREHOUSE). Published by an atomic rename of this "
            "run's build once every model and blocking check passed; open readers are unaffected."
        ),
        pool=WRITER_POOL,
    )
    def published_warehouse(context: dg.AssetExecutionContext, paw: PawSettings):
        settings = paw.get()
        with read_only(build_path(settings.warehouse_path, context.run.run_id)) as con:
            tables = con.execute(
                "select schema_name || '.' || table_name, estimated_size "
                "from duckdb_tables() where schema_name = 'marts' order by 1"
            ).fetchall()
        path = publish_build(settings.warehouse_path, context.run.run_id)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "size_mb": round(path.stat().st_size / 1e6, 1),
                "mart_rows": {name: int(rows) for name, rows in tables},
                "dagster/row_count": sum(int(rows) for _, rows in tables),
            }
        )

    return published_warehouse


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            "no_duplicate_event_ids",
            asset=STG_EVENTS,
            blocking=True,
            description="Every event_id appears once in staging.stg_events.",
        ),
        dg.AssetCheckSpec(
            "volume_anomaly",
            asset=STG_EVENTS,
            description=(
                "Warns when stg_events shrinks against the published warehouse, or when the "
                "latest day's events fall by more than half against the same weekday of the four "
                "weeks before (the trailing week while there is less history)."
            ),
        ),
        dg.AssetCheckSpec(
            "schema_drift",
            asset=STG_EVENTS,
            description="Reports event names and property keys seen for the first time.",
        ),
    ],
    name="stg_events_checks",
)
def stg_events_checks(context: dg.AssetCheckExecutionContext, paw: PawSettings):
    settings = paw.get()
    build = build_path(settings.warehouse_path, context.run.run_id)
    previous_path = Path(settings.warehouse_path)
    with contextlib.ExitStack() as connections:
        current = connections.enter_context(
            read_only(build if build.exists() else settings.warehouse_path)
        )
        previous = (
            connections.enter_context(read_only(previous_path))
            if build.exists() and previous_path.exists()
            else None
        )
        yield _duplicates(current, previous)
        yield _volume(current, previous)
        yield _drift(current, previous)


def _duplicates(
    con: duckdb.DuckDBPyConnection, previous: duckdb.DuckDBPyConnection | None
) -> dg.AssetCheckResult:
    """Event ids repeated in stg_events, looked for among the rows the published warehouse did
    not hold: stg_events only appends runs (staged after the published one's newest row), and
    the published warehouse passed this check. The nightly then probes the whole table's ids
    with the new rows' only (at 10M events, 0.8-1.1 s where counting every distinct id took
    1.8-2.6 s). Without a published warehouse, or when every row was staged again (a full
    refresh), the table is checked whole."""
    staged_before = _newest_staged_at(previous)
    rows, oldest = con.execute("select count(*), min(built_at) from staging.stg_events").fetchone()
    if staged_before is None or oldest is None or oldest > staged_before:
        distinct = con.execute("select count(distinct event_id) from staging.stg_events")
        checked, duplicates = rows, rows - distinct.fetchone()[0]
    else:
        checked, duplicates = con.execute(
            """
            with checked as (
                select event_id from staging.stg_events where built_at > $staged_before
            )
            select
                (select count(*) from checked),
                (select count(*) from staging.stg_events
                 where event_id in (select checked.event_id from checked))
                - (select count(distinct checked.event_id) from checked)
            """,
            {"staged_before": staged_before},
        ).fetchone()
    return dg.AssetCheckResult(
        check_name="no_duplicate_event_ids",
        asset_key=STG_EVENTS,
        passed=duplicates == 0,
        metadata={"rows": rows, "rows_checked": checked, "duplicates": duplicates},
    )


def _newest_staged_at(con: duckdb.DuckDBPyConnection | None):
    """When the newest row of a warehouse's stg_events was staged; None without one."""
    if con is None or not _has_column(con, "staging", "stg_events", "built_at"):
        return None
    return con.execute("select max(built_at) from staging.stg_events").fetchone()[0]


def _volume(
    con: duckdb.DuckDBPyConnection, previous: duckdb.DuckDBPyConnection | None
) -> dg.AssetCheckResult:
    rows = con.execute("select count(*) from staging.stg_events").fetchone()[0]
    previous_rows = (
        previous.execute("select count(*) from staging.stg_events").fetchone()[0]
        if previous is not None and _has_table(previous, "staging", "stg_events")
        else None
    )
    # The latest day against the same weekday of the four weeks before it (weekends are
    # quieter than weekdays), or against the trailing week while there is no such day yet.
    daily = con.execute(
        """
        with days as (
            select event_date, count(*) as events from staging.stg_events group by event_date
        ),
        latest as (select max(event_date) as d from days),
        same_weekday as (
            select avg(events) as average from days, latest
            where event_date in (latest.d - 7, latest.d - 14, latest.d - 21, latest.d - 28)
        ),
        trailing_week as (
            select avg(events) as average from days, latest
            where event_date between latest.d - 7 and latest.d - 1
        )
        select
            (select events from days, latest where event_date = latest.d) as latest_events,
            coalesce(
                (select average from same_weekday), (select average from trailing_week)
            ) as baseline,
            (select d from latest) as latest_day
        """
    ).fetchone()
    latest_events, baseline, latest_day = daily
    problems = []
    if previous_rows is not None and rows < previous_rows:
        problems.append(f"stg_events shrank from {previous_rows:,} to {rows:,} rows")
    if latest_events is not None and baseline and latest_events < baseline / 2:
        problems.append(
            f"{latest_day}: {latest_events:,} events, under half the usual "
            f"{baseline:,.0f} for that weekday"
        )
    return dg.AssetCheckResult(
        check_name="volume_anomaly",
        asset_key=STG_EVENTS,
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(problems) or "volume as expected",
        metadata={
            "rows": rows,
            "previous_rows": previous_rows,
            "latest_day": str(latest_day),
            "latest_day_events": latest_events,
            "usual_daily_events": float(baseline or 0),
        },
    )


def _names_and_keys(con: duckdb.DuckDBPyConnection) -> tuple[set[str], set[str]] | None:
    """A warehouse's event names, and its `event_name.key` property keys, read from the
    catalog model int_event_property_keys, where each event's properties were parsed once, in
    the build that staged it: parsing every event's properties here again took 1.5 s a
    warehouse at 10M events, twice a night. None for a warehouse without that model."""
    if not _has_table(con, "intermediate", "int_event_property_keys"):
        return None
    names = {
        r[0] for r in con.execute("select distinct event_name from staging.stg_events").fetchall()
    }
    keys = {
        r[0]
        for r in con.execute(
            "select distinct event_name || '.' || property_key "
            "from intermediate.int_event_property_keys"
        ).fetchall()
    }
    return names, keys


def _drift(
    con: duckdb.DuckDBPyConnection, previous: duckdb.DuckDBPyConnection | None
) -> dg.AssetCheckResult:
    current = _names_and_keys(con)
    if current is None:
        return dg.AssetCheckResult(
            check_name="schema_drift",
            asset_key=STG_EVENTS,
            passed=True,
            description="no property-key catalog (intermediate.int_event_property_keys)",
        )
    names, keys = current
    baseline = (
        _names_and_keys(previous)
        if previous is not None and _has_table(previous, "staging", "stg_events")
        else None
    )
    if baseline is None:
        return dg.AssetCheckResult(
            check_name="schema_drift",
            asset_key=STG_EVENTS,
            passed=True,
            description=f"baseline: {len(names)} event names, {len(keys)} property keys",
            metadata={"event_names": sorted(names)[:200]},
        )
    old_names, old_keys = baseline
    new_names, new_keys = sorted(names - old_names), sorted(keys - old_keys)
    return dg.AssetCheckResult(
        check_name="schema_drift",
        asset_key=STG_EVENTS,
        passed=not (new_names or new_keys),
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(new_names)} new event names, {len(new_keys)} new property keys",
        metadata={"new_event_names": new_names[:200], "new_property_keys": new_keys[:200]},
    )


def _has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_columns() "
            "where schema_name = ? and table_name = ? and column_name = ?",
            [schema, table, column],
        ).fetchone()[0]
    )


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )
