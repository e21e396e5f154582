"""The peer: the same sessions, funnels and weekly retention computed by ClickHouse (chDB,
in-process) on the same lake files, with windowFunnel, retention and window functions.

Identity stitching is paw's own (no peer has it), so the peer receives paw's person for each
activity event (`event_id → person_id`) and computes everything else from the lake itself.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

MAX_RETENTION_WEEKS = 31  # ClickHouse's retention() takes at most 32 conditions


@dataclass
class PeerInputs:
    lake: str
    person_map: str  # Parquet with event_id, person_id
    funnels_csv: str
    funnel_steps_csv: str
    funnel_exclusions_csv: str = ""
    session_timeout_minutes: int = 30


def _query(sql: str) -> list[dict]:
    import chdb

    result = chdb.query(sql, "JSONEachRow")
    text = result.bytes().decode() if hasattr(result, "bytes") else str(result)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def activity_sql(inputs: PeerInputs) -> str:
    """Activity events. The lake holds each event_id once, so the peer reads it as it is."""
    return f"""
        select assumeNotNull(m.person_id) as person_id, assumeNotNull(e.event_id) as event_id,
               assumeNotNull(e.ts) as ts, e.event_name as event_name, e.properties as properties
        from (
            select event_id, event_timestamp as ts, event_name, properties
            from file('{inputs.lake}/events/*/*.parquet', Parquet)
            where event_type in ('track', 'page', 'screen')
        ) as e
        inner join file('{inputs.person_map}', Parquet) as m on e.event_id = m.event_id
    """


def sessions_sql(inputs: PeerInputs) -> str:
    gap_us = inputs.session_timeout_minutes * 60 * 1_000_000
    return f"""
        with activity as ({activity_sql(inputs)})
        select count() as sessions from (
            select ts,
                   lagInFrame(ts, 1) over w as previous_ts,
                   row_number() over w as position
            from activity
            window w as (partition by person_id order by ts, event_id
                         rows between unbounded preceding and current row)
        )
        where position = 1 or dateDiff('microsecond', previous_ts, ts) > {gap_us}
        settings session_timezone = 'UTC'
    """


# paw's funnel order modes that ClickHouse's windowFunnel has, as its mode argument
WINDOW_FUNNEL_MODES = {"ordered": "", "strict": ", 'strict_order'"}


def _csv_rows(path: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(Path(path).read_text()))) if path else []


def _funnels(inputs: PeerInputs) -> dict[str, tuple[int, str, list[dict]]]:
    """The funnels windowFunnel can compute: ordered and strict ones without exclusions."""
    excluded = {r["funnel_name"] for r in _csv_rows(inputs.funnel_exclusions_csv)}
    funnels = {
        r["funnel_name"]: (int(r["conversion_window_seconds"]), r.get("order_mode") or "ordered")
        for r in _csv_rows(inputs.funnels_csv)
    }
    steps: dict[str, list[dict]] = {}
    for row in _csv_rows(inputs.funnel_steps_csv):
        steps.setdefault(row["funnel_name"], []).append(row)
    return {
        name: (window, mode, sorted(rows, key=lambda r: int(r["step_number"])))
        for name, rows in steps.items()
        for window, mode in [funnels[name]]
        if mode in WINDOW_FUNNEL_MODES and name not in excluded
    }


def funnel_sql(inputs: PeerInputs, window_seconds: int, mode: str, steps: list[dict]) -> str:
    conditions = []
    for step in steps:
        condition = f"event_name = {_quote(step['event_name'])}"
        if step.get("property_name"):
            condition += (
                f" and JSONExtractString(properties, {_quote(step['property_name'])})"
                f" = {_quote(step['property_value'])}"
            )
        conditions.append(f"({condition})")
    return f"""
        with activity as ({activity_sql(inputs)})
        select level, count() as persons from (
            select person_id,
                   windowFunnel({window_seconds * 1_000_000}{WINDOW_FUNNEL_MODES[mode]})(
                       toUInt64(toUnixTimestamp64Micro(ts)), {", ".join(conditions)}
                   ) as level
            from activity
            group by person_id
        )
        where level > 0
        group by level
        settings session_timezone = 'UTC'
    """


def retention_sql(inputs: PeerInputs, weeks: int) -> str:
    conditions = ", ".join(
        ["week = cohort"] + [f"week = cohort + {7 * n}" for n in range(1, weeks)]
    )
    return f"""
        with activity as ({activity_sql(inputs)}),
        person_weeks as (
            select distinct person_id, toMonday(toDate(ts, 'UTC')) as week from activity
        ),
        cohorts as (
            select person_id, min(week) as cohort from person_weeks group by person_id
        )
        select toString(cohort) as cohort, sumForEach(kept) as retained from (
            select person_id, cohort, retention({conditions}) as kept
            from person_weeks inner join cohorts using (person_id)
            group by person_id, cohort
        )
        group by cohort
        settings session_timezone = 'UTC'
    """


def run_peer(inputs: PeerInputs) -> tuple[dict, dict]:
    """The peer's figures and its seconds per insight."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    sessions = int(_query(sessions_sql(inputs))[0]["sessions"])
    timings["sessions"] = time.perf_counter() - start

    start = time.perf_counter()
    funnel_users: dict[str, int] = {}
    for name, (window, mode, steps) in _funnels(inputs).items():
        levels = {
            int(r["level"]): int(r["persons"])
            for r in _query(funnel_sql(inputs, window, mode, steps))
        }
        for step in range(1, len(steps) + 1):
            funnel_users[f"{name}:{step}"] = sum(n for level, n in levels.items() if level >= step)
    timings["funnel"] = time.perf_counter() - start

    start = time.perf_counter()
    span = _query(
        f"with activity as ({activity_sql(inputs)}) "
        "select dateDiff('week', toMonday(toDate(min(ts), 'UTC')), "
        "toMonday(toDate(max(ts), 'UTC'))) as w "
        "from activity settings session_timezone = 'UTC'"
    )
    weeks = min(MAX_RETENTION_WEEKS, int(span[0]["w"]) + 1)
    retention: dict[str, int] = {}
    for row in _query(retention_sql(inputs, weeks)):
        for period, retained in enumerate(row["retained"]):
            if retained:
                retention[f"{row['cohort']}:{period}"] = int(retained)
    timings["weekly_retention"] = time.perf_counter() - start
    return {
        "sessions": sessions,
        "funnel_users": funnel_users,
        "weekly_retention": retention,
    }, timings
