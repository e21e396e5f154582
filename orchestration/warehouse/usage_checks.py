"""Checks on metered usage that finance relies on: rejected usage events, and a subject whose
latest day departs from its own recent history."""

import contextlib

import dagster as dg
import duckdb

from orchestration.resources import PawSettings
from orchestration.warehouse.assets import read_only
from orchestration.warehouse.files import build_path

USAGE_REJECTED = dg.AssetKey(["marts", "fct_usage_rejected"])
USAGE_DAILY = dg.AssetKey(["marts", "fct_usage_daily"])
# A subject's latest day is unusual when its modified z-score (Iglewicz and Hoaglin: 0.6745 x
# its distance from the median of its trailing window / the window's median absolute
# deviation) is above 3.5, about 5.2 MADs, given enough history. At 3 MADs (about two standard
# deviations) an ordinary day warned for one subject in 25: the sample's own data warned on
# some days and not on others.
ANOMALY_Z = 3.5
MAD_TO_Z = 0.6745
# ... and it is at least this far from the median, relative to it: a steady subject's MAD is a
# few percent of its level, so an ordinary dip scored above 3.5 (the sample's org_initech, 6.5%
# under its median on 2026-12-03: z 3.54) and warned on some days and not on others.
MIN_RELATIVE_CHANGE = 0.2
TRAILING_DAYS = 28
MIN_HISTORY_DAYS = 14
SHOWN_SUBJECTS = 50

ANOMALIES_SQL = f"""
with
latest as (
    select meter_name, subject_type, subject_id, max(usage_date) as latest_date
    from marts.fct_usage_daily
    group by all
),
history as (
    select daily.meter_name, daily.subject_type, daily.subject_id, latest.latest_date,
        daily.value
    from marts.fct_usage_daily as daily
    inner join latest using (meter_name, subject_type, subject_id)
    where daily.usage_date < latest.latest_date
        and daily.usage_date >= latest.latest_date - {TRAILING_DAYS}
),
medians as (
    select meter_name, subject_type, subject_id, latest_date,
        median(value) as trailing_median, count(*) as history_days
    from history
    group by all
),
spread as (
    select medians.*, median(abs(history.value - medians.trailing_median)) as mad
    from medians
    inner join history using (meter_name, subject_type, subject_id)
    group by all
)
select spread.meter_name, spread.subject_type, spread.subject_id,
    cast(spread.latest_date as varchar) as latest_date,
    cast(daily.value as double) as latest_value,
    cast(spread.trailing_median as double) as trailing_median,
    cast(spread.mad as double) as mad
from spread
inner join marts.fct_usage_daily as daily
    on daily.meter_name = spread.meter_name and daily.subject_type = spread.subject_type
    and daily.subject_id = spread.subject_id and daily.usage_date = spread.latest_date
where spread.history_days >= {MIN_HISTORY_DAYS}
    and spread.mad > 0
    and {MAD_TO_Z} * abs(daily.value - spread.trailing_median) > {ANOMALY_Z} * spread.mad
    and abs(daily.value - spread.trailing_median)
        >= {MIN_RELATIVE_CHANGE} * abs(spread.trailing_median)
order by spread.meter_name, spread.subject_type, spread.subject_id
"""


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            "no_rejected_usage",
            asset=USAGE_REJECTED,
            description=(
                "Warns when metered events are not billed: a value missing or not a number, or "
                "no subject (no group for a group meter). They are listed in fct_usage_rejected."
            ),
        ),
        dg.AssetCheckSpec(
            "usage_anomaly",
            asset=USAGE_DAILY,
            description=(
                f"Warns when a subject's latest day has a modified z-score above {ANOMALY_Z} "
                f"({MAD_TO_Z} x its distance from its trailing {TRAILING_DAYS}-day median / the "
                f"median absolute deviation) and is at least {MIN_RELATIVE_CHANGE:.0%} away "
                f"from that median (subjects with at least {MIN_HISTORY_DAYS} days of history "
                "and some spread in it)."
            ),
        ),
    ],
    name="usage_checks",
)
def usage_checks(context: dg.AssetCheckExecutionContext, paw: PawSettings):
    settings = paw.get()
    build = build_path(settings.warehouse_path, context.run.run_id)
    with contextlib.ExitStack() as stack:
        con = stack.enter_context(read_only(build if build.exists() else settings.warehouse_path))
        yield rejected_usage_result(con)
        yield usage_anomaly_result(con)


def rejected_usage_result(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    by_reason = con.execute(
        "select meter_name || ': ' || reason, count(*) from marts.fct_usage_rejected "
        "group by all order by 2 desc, 1"
    ).fetchall()
    total = sum(n for _, n in by_reason)
    return dg.AssetCheckResult(
        check_name="no_rejected_usage",
        asset_key=USAGE_REJECTED,
        passed=total == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{total:,} metered events not billed: "
            + ", ".join(f"{label} {n:,}" for label, n in by_reason)
            if total
            else "every metered event is billed"
        ),
        metadata={"rejected_events": total, "by_meter_and_reason": dict(by_reason)},
    )


def usage_anomaly_result(con: duckdb.DuckDBPyConnection) -> dg.AssetCheckResult:
    rel = con.sql(ANOMALIES_SQL)
    columns = rel.columns
    anomalies = [dict(zip(columns, row, strict=True)) for row in rel.fetchall()]
    return dg.AssetCheckResult(
        check_name="usage_anomaly",
        asset_key=USAGE_DAILY,
        passed=not anomalies,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(anomalies)} subject(s) with an unusual latest day"
            if anomalies
            else "every subject's latest day is within its usual range"
        ),
        metadata={
            "unusual_subjects": len(anomalies),
            "subjects": dg.MetadataValue.json(anomalies[:SHOWN_SUBJECTS]),
        },
    )
