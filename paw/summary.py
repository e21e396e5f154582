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


def summary(warehouse_path: str) -> str:
    con = connect_read_only(warehouse_path)
    try:
        lines = [f"warehouse {warehouse_path}"]
        for label, sql in QUERIES.items():
            lines.append(f"  {label:<26} {con.execute(sql).fetchone()[0]:>12,}")
        funnels = con.execute(
            "select funnel_name, step_number, event_name, users, conversion_from_start "
            "from marts.agg_funnel_steps order by funnel_name, step_number"
        ).fetchall()
        lines.append("  funnels:")
        for name, step, event, users, rate in funnels:
            shown = f"{rate:.1%}" if rate is not None else "-"
            lines.append(f"    {name} {step}. {event:<18} {users:>8,}  {shown:>6}")
        lines.extend(experiment_lines(con))
        lines.extend(nps_lines(con))
        lines.extend(usage_lines(con))
        lines.append('query it: .venv/bin/paw sql "select * from marts.fct_sessions limit 10"')
        return "\n".join(lines)
    finally:
        con.close()


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
        f"  usage {start:%Y-%m} ({'final' if is_final else 'provisional'}): {meters} meters over "
        f"{subjects:,} subjects; invoice it: .venv/bin/paw export usage --period {start:%Y-%m}"
        + flag
    ]


if __name__ == "__main__":
    print(summary(Settings.from_env().warehouse_path))
