"""Whether a build can start from the published warehouse: it must open, its incremental
tables must have the columns the project now documents for them, and it must have been built
from the definitions the project has now. A warehouse built by an older paw (a staging table
without a column an incremental model now adds, or a model whose SQL changed), one built before
a seed or a var was edited (a new funnel, another session timeout), or a damaged one gets a full
rebuild instead of an incremental build that would fail or keep stale rows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import yaml

# Where the published warehouse records the definitions it was built from (a dbt model that
# stores the var paw_project_definitions, which dbt_args passes to every dbt command).
DEFINITIONS_TABLE = ("staging", "stg_project_definitions")
DEFINITIONS_VAR = "paw_project_definitions"
# The files whose content decides what the models compute (data tests do not).
DEFINITION_FILES = (
    ("seeds", "*.csv"),
    ("models", "*.sql"),
    ("models", "*.py"),
    ("macros", "*.sql"),
)
NOT_DEFINITIONS = ("macros/tests/",)


def _short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def project_definitions(project_dir: Path, overrides: Mapping[str, Any] | None = None) -> dict:
    """What the models compute from, each with a short hash of its content: every seed, model
    and macro file, each var of dbt_project.yml (as overridden for this invocation), and the
    rest of dbt_project.yml (the models' configs)."""
    definitions: dict[str, str] = {}
    for folder, pattern in DEFINITION_FILES:
        for path in sorted((project_dir / folder).rglob(pattern)):
            name = path.relative_to(project_dir).as_posix()
            if path.is_file() and not name.startswith(NOT_DEFINITIONS):
                definitions[name] = _short_hash(path.read_bytes())
    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text())
    project_vars = config.pop("vars", {}) or {}
    for name, value in sorted(project_vars.items()):
        value = (overrides or {}).get(name, value)
        definitions[f"var {name}"] = _short_hash(json.dumps(value, sort_keys=True).encode())
    definitions["dbt_project.yml"] = _short_hash(json.dumps(config, sort_keys=True).encode())
    return dict(sorted(definitions.items()))


def incremental_tables(manifest_path: Path) -> dict[tuple[str, str], set[str]]:
    """(schema, table) -> documented columns, for each incremental model of the manifest."""
    manifest = json.loads(manifest_path.read_text())
    return {
        (node["schema"], node["alias"] or node["name"]): set(node["columns"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }


def incremental_base_problem(
    warehouse: Path,
    manifest_path: Path,
    committed_run_ids: set[str],
    definitions: Mapping[str, str],
) -> str | None:
    """Why the published warehouse cannot be the base of an incremental build (None when it
    can): it cannot be opened, or an incremental table lacks a column the project documents,
    or is missing, or it was built from other definitions than `definitions`
    (project_definitions), or it staged runs the lake no longer has committed (a lake rebuilt
    or pruned under it). An incremental build on it would fail or differ from a full one."""
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
        built_from = _built_definitions(con, rows)
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
    if built_from is None:
        return "the published warehouse does not record the definitions it was built from"
    changed = sorted(
        name
        for name in set(built_from) | set(definitions)
        if built_from.get(name) != definitions.get(name)
    )
    if changed:
        shown = ", ".join(changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        return f"the project's definitions changed since the published build: {shown}"
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


def published_definitions(warehouse: Path) -> dict[str, str]:
    """The definitions the published warehouse records ({} when none, or no warehouse). A build
    of part of the graph records these again, not the project's: its other models keep what
    they were built from, so only a build of the whole graph may say that they changed."""
    if not warehouse.exists():
        return {}
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return {}
    try:
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns()"
        ).fetchall()
        return _built_definitions(con, columns) or {}
    finally:
        con.close()


def _built_definitions(con: duckdb.DuckDBPyConnection, columns: list[tuple]) -> dict | None:
    schema, table = DEFINITIONS_TABLE
    if (schema, table, "definition") not in {tuple(c) for c in columns}:
        return None
    return dict(con.execute(f"select definition, content_hash from {schema}.{table}").fetchall())
