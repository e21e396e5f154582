"""A short summary of what the warehouse holds, printed at the end of `make run`."""

from __future__ import annotations

from paw.query import connect_read_only
from paw.settings import Settings

QUERIES = {
    "events (activity)": "select count(*) from marts.fct_events",
    "persons": "select count(*) from marts.dim_persons",
    "identified persons": "select count(*) from marts.dim_persons where is_identified",
    "sessions": "select count(*) from marts.fct_sessions",
    "quarantined lines": "select count(*) from staging.stg_quarantined_events",
    "purchasing persons (RFM)": "select count(*) from marts.fct_rfm",
}


NEXT_STEPS = (
    ("make dev", "the Dagster UI: assets, checks, runs (http://127.0.0.1:3000)"),
    ("docs/semantics.md", "what every mart means, with worked examples"),
    (
        '.venv/bin/paw sql "select * from marts.agg_daily_engagement order by 1 desc limit 7"',
        "query it",
    ),
)


def summary(warehouse_path: str) -> str:
    con = connect_read_only(warehouse_path)
    try:
        first, last = con.execute(
            "select min(event_date), max(event_date) from marts.fct_events"
        ).fetchone()
        span = f", events from {first} to {last}" if first else ", no events yet"
        lines = [f"warehouse {warehouse_path}{span}"]
        for label, sql in QUERIES.items():
            lines.append(f"  {label:<26} {con.execute(sql).fetchone()[0]:>12,}")
        lines.extend(funnel_lines(con))
        lines.extend(experiment_lines(con))
        lines.extend(nps_lines(con))
        lines.extend(usage_lines(con))
        lines.append("next:")
        lines.extend(
            f"  {what:<20} {why}" if len(what) < 20 else f"  {why}: {what}"
            for what, why in NEXT_STEPS
        )
        return "\n".join(lines)
    finally:
        con.close()


def funnel_lines(con) -> list[str]:
    """Each funnel, its order mode, window and exclusions, then its steps with their property
    filters: page_viewed (path = /pricing)."""
    rows = con.execute(
        "select steps.funnel_name, funnels.order_mode, funnels.conversion_window_seconds, "
        "(select string_agg(x.event_name || ' between steps ' || x.from_step || '-' || x.to_step, "
        "', ') from staging.funnel_exclusions as x where x.funnel_name = steps.funnel_name), "
        "steps.step_number, steps.event_name, seed.property_name, "
        "seed.property_value, steps.users, steps.conversion_from_start "
        "from marts.agg_funnel_steps as steps "
        "inner join staging.stg_funnels as funnels on steps.funnel_name = funnels.funnel_name "
        "left join staging.funnel_steps as seed "
        "on steps.funnel_name = seed.funnel_name and steps.step_number = seed.step_number "
        "order by steps.funnel_name, steps.step_number"
    ).fetchall()
    lines = ["  funnels:"] if rows else []
    for name, mode, window, excluded, step, event, prop, value, users, rate in rows:
        if step == 1:
            notes = [mode, f"within {duration(window)}"]
            if excluded:
                notes.append(f"excluding {excluded}")
            lines.append(f"    {name} ({', '.join(notes)}):")
        label = f"{event} ({prop} = {value})" if prop else event
        shown = f"{rate:.1%}" if rate is not None else "-"
        lines.append(f"      {step}. {label:<36} {users:>8,}  {shown:>6}")
    return lines


def duration(seconds: int) -> str:
    """A window in the largest whole unit: 1209600 -> 14 d, 3600 -> 1 h, 90 -> 90 s."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def experiment_lines(con) -> list[str]:
    rows = con.execute(
        "select experiment_key, variant, is_control, persons, conversion_rate, lift, p_value, "
        "is_significant, multiple_variant_persons, has_sample_ratio_mismatch, winner "
        "from marts.agg_experiment_results order by experiment_key, not is_control, variant"
    ).fetchall()
    lines = ["  experiments:"] if rows else []
    for key, variant, is_control, persons, rate, lift, p, significant, multi, srm, winner in rows:
        if is_control:
            verdict = f"winner {winner}" if winner else "no significant winner"
            notes = [verdict]
            if multi:
                notes.append(f"{multi} excluded (several variants)")
            if srm:
                notes.append("SAMPLE RATIO MISMATCH")
            lines.append(f"    {key}: {', '.join(notes)}")
        shown = (
            "control"
            if is_control
            else (f"lift {lift:+.1%}" if lift is not None else "lift -")
            + (f", {_p_value(p)}{' *' if significant else ''}" if p is not None else "")
        )
        lines.append(f"      {variant:<12} {persons:>7,} persons  {rate:>6.1%}  {shown}")
    return lines


def _p_value(p: float) -> str:
    return "p<0.0001" if p < 0.0001 else f"p={p:.4f}"


def nps_lines(con) -> list[str]:
    row = con.execute(
        "select period_start, respondents, nps, invalid_responses from marts.agg_nps "
        "where period_grain = 'month' order by period_start desc limit 1"
    ).fetchone()
    if row is None:
        return []
    start, respondents, nps, invalid = row
    shown = f"{nps:+.1f}" if nps is not None else "-"
    return [
        f"  NPS {start:%Y-%m}: {shown} from {respondents:,} respondents"
        + (f" ({invalid:,} invalid answers not counted)" if invalid else "")
    ]


def usage_lines(con) -> list[str]:
    row = con.execute(
        "select period_start, count(distinct meter_name), count(distinct subject_id), "
        "bool_and(is_final) from marts.agg_usage_billing_period "
        "where period_start = (select max(period_start) from marts.agg_usage_billing_period) "
        "group by period_start"
    ).fetchone()
    if row is None:
        return []
    start, meters, subjects, is_final = row
    flag = "" if is_final else " --allow-provisional"
    return [
        f"  usage {start:%Y-%m} ({'final' if is_final else 'provisional'}): {meters} meter(s) over "
        f"{subjects:,} subjects; invoice it: .venv/bin/paw export usage --period {start:%Y-%m}"
        + flag
    ]


if __name__ == "__main__":
    print(summary(Settings.from_env().warehouse_path))
