"""Reading results: dbt's run_results.json, and paw's insights from the warehouse."""

from __future__ import annotations

import duckdb

SESSION_MODELS = ("int_sessionized_activity", "fct_sessions")
FUNNEL_MODELS = (
    "int_funnel_step_events",
    "int_funnel_chains",
    "fct_funnel_progress",
    "agg_funnel_steps",
)
RETENTION_MODELS = ("agg_retention",)


def model_timings(run_results: dict) -> dict[str, float]:
    """Seconds per model (and seed) from dbt's run_results.json; tests are left out."""
    out: dict[str, float] = {}
    for result in run_results.get("results", []):
        unique_id = result.get("unique_id", "")
        kind = unique_id.split(".", 1)[0]
        if kind in ("model", "seed"):
            out[unique_id.rsplit(".", 1)[-1]] = float(result.get("execution_time") or 0.0)
    return out


def insight_seconds(timings: dict[str, float]) -> dict[str, float]:
    return {
        "sessions": sum(timings.get(m, 0.0) for m in SESSION_MODELS),
        "funnel": sum(timings.get(m, 0.0) for m in FUNNEL_MODELS),
        "weekly_retention": sum(timings.get(m, 0.0) for m in RETENTION_MODELS),
    }


def paw_insights(warehouse: str) -> dict:
    """The figures the peer must reproduce, read from paw's marts."""
    con = duckdb.connect(warehouse, read_only=True)
    try:
        sessions = con.execute("select count(*) from marts.fct_sessions").fetchone()[0]
        funnel = {
            f"{name}:{step}": users
            for name, step, users in con.execute(
                "select funnel_name, step_number, users from marts.agg_funnel_steps"
            ).fetchall()
        }
        retention = {
            f"{cohort}:{period}": retained
            for cohort, period, retained in con.execute(
                "select cast(cohort_start as varchar), period_number, retained_users "
                "from marts.agg_retention where retention_name = 'activity' "
                "and cohort_grain = 'week' and retained_users > 0"
            ).fetchall()
        }
    finally:
        con.close()
    return {"sessions": sessions, "funnel_users": funnel, "weekly_retention": retention}


def compare(paw: dict, peer: dict) -> list[str]:
    """Every difference between paw's and the peer's figures, as readable lines."""
    problems = []
    if paw["sessions"] != peer["sessions"]:
        problems.append(f"sessions: paw {paw['sessions']} vs peer {peer['sessions']}")
    for field in ("funnel_users", "weekly_retention"):
        mine, theirs = paw[field], peer[field]
        if field == "funnel_users":  # only the funnels the peer can compute
            computed = {key.split(":")[0] for key in theirs}
            mine = {k: v for k, v in mine.items() if k.split(":")[0] in computed}
        for key in sorted(set(mine) | set(theirs)):
            if mine.get(key, 0) != theirs.get(key, 0):
                problems.append(
                    f"{field} {key}: paw {mine.get(key, 0)} vs peer {theirs.get(key, 0)}"
                )
    return problems
