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
        lines.append('query it: .venv/bin/paw sql "select * from marts.fct_sessions limit 10"')
        return "\n".join(lines)
    finally:
        con.close()


if __name__ == "__main__":
    print(summary(Settings.from_env().warehouse_path))
