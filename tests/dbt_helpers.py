"""Running the real dbt project from tests, through paw's one dbt invocation."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.dbt.project import dbt_project_dir, run_dbt_command
from paw.settings import Settings

DBT_PROJECT = dbt_project_dir()


def copy_dbt_project(root: Path) -> Path:
    """A copy of the dbt project at root/project, without its build artefacts, for a test that
    edits its seeds or adds models."""
    project = root / "project"
    shutil.copytree(DBT_PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    return project


@dataclass
class DbtResult:
    success: bool
    output: str
    # unique id -> status, from dbt's run_results.json (not from its console text)
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> set[str]:
        """The names of the nodes that failed or errored."""
        return {
            unique_id.split(".")[3 if unique_id.startswith("unit_test.") else 2]
            for unique_id, status in self.statuses.items()
            if status in ("fail", "error")
        }


def run_dbt(
    args: list[str],
    settings: Settings,
    project: Path = DBT_PROJECT,
    target_dir: Path | None = None,
    analytic_vars: dict | None = None,
) -> DbtResult:
    # A dbt target folder beside the test's warehouse, so that tests never race `make run` or
    # each other, and a test calling dbt again reuses dbt's parse of the project (15 s).
    target = target_dir or Path(settings.warehouse_path).parent / ".dbt-target"
    results = target / "run_results.json"
    results.unlink(missing_ok=True)  # never an earlier call's
    proc = run_dbt_command(
        args,
        settings,
        project_dir=project,
        capture_output=True,
        # dbt's log beside its target: the SQL it ran, for the tests that read it
        env={**os.environ, "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target / "logs")},
        analytic_vars=analytic_vars,
    )
    statuses = {}
    if results.exists():
        for row in json.loads(results.read_text())["results"]:
            statuses[row["unique_id"]] = row["status"]
    return DbtResult(proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:], statuses)


def mart_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """A mart's rows in a comparable order, without built_at (when a row was written differs
    between two builds by design)."""
    return con.execute(
        f"select columns(c -> c <> 'built_at') from marts.{table} order by all"
    ).fetchall()
