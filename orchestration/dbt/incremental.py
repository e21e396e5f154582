"""Whether a build can start from the published warehouse: it must open, and its incremental
tables must have the columns the project now documents for them. A warehouse built by an older
paw (a staging table without a column an incremental model now adds) or a damaged one gets a
full rebuild instead of an incremental build that would fail or keep stale rows."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb


def incremental_tables(manifest_path: Path) -> dict[tuple[str, str], set[str]]:
    """(schema, table) -> documented columns, for each incremental model of the manifest."""
    manifest = json.loads(manifest_path.read_text())
    return {
        (node["schema"], node["alias"] or node["name"]): set(node["columns"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }


def incremental_base_problem(
    warehouse: Path, manifest_path: Path, committed_run_ids: set[str]
) -> str | None:
    """Why the published warehouse cannot be the base of an incremental build (None when it
    can): it cannot be opened, or an incremental table lacks a column the project documents,
    or is missing, or it staged runs the lake no longer has committed (a lake rebuilt or
    pruned under it). An incremental build on it would fail or differ from a full one."""
    wanted = incremental_tables(manifest_path)
    if not wanted or not warehouse.exists():
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        return f"the published warehouse cannot be opened ({exc})"
    try:
        rows = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns()"
        ).fetchall()
        staged_runs = _staged_run_ids(con, rows)
    finally:
        con.close()
    present: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in rows:
        present.setdefault((schema, table), set()).add(column)
    stale = [
        f"{schema}.{table}"
        for (schema, table), columns in sorted(wanted.items())
        if not columns <= present.get((schema, table), set())
    ]
    if stale:
        return f"the published warehouse's {', '.join(stale)} predate this version of the project"
    gone = staged_runs - committed_run_ids
    if gone:
        return (
            f"the published warehouse holds {len(gone)} ingestion run(s) the lake no longer has "
            f"committed (e.g. {min(gone)}): the lake was rebuilt or pruned under it"
        )
    return None


def _staged_run_ids(con: duckdb.DuckDBPyConnection, columns: list[tuple]) -> set[str]:
    if ("staging", "stg_events", "run_id") not in {tuple(c) for c in columns}:
        return set()
    return {r for (r,) in con.execute("select distinct run_id from staging.stg_events").fetchall()}
