"""Running the real dbt project from tests, through paw's one dbt invocation."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import dbtRunner
from dbt_common.events.functions import capture_stdout_logs, stop_capture_stdout_logs

from orchestration.dbt.project import dbt_args, dbt_project_dir, project_flags
from paw.duckdb_secrets import secret_directory
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
    # unique id -> the rows a data test returned (its failures), from run_results.json
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> set[str]:
        """The names of the nodes that failed or errored."""
        return {
            node_name(unique_id)
            for unique_id, status in self.statuses.items()
            if status in ("fail", "error")
        }

    def failures_of(self, name: str) -> int:
        """The rows the data test of this name returned."""
        return next(count for uid, count in self.failures.items() if node_name(uid) == name)


def node_name(unique_id: str) -> str:
    """A node's name from its unique id (a unit test's is one part longer)."""
    return unique_id.split(".")[3 if unique_id.startswith("unit_test.") else 2]


def run_dbt(
    args: list[str],
    settings: Settings,
    project: Path = DBT_PROJECT,
    target_dir: Path | None = None,
    analytic_vars: dict | None = None,
) -> DbtResult:
    """dbt with paw's vars (dbt_args, as `paw dbt` and Dagster pass them), run in this process
    through dbt's programmatic entry point: a dbt process would spend 2.5 s starting and rebuild
    the schemas it validates the project with, which a test worker keeps between calls (a call
    that parses nothing takes 1.6 s here, against 5.2 s as a subprocess). dbt as `paw dbt`
    starts it is run in test_quickstart.py (docs generate), as Dagster does in
    test_orchestration.py."""
    # A dbt target folder beside the test's warehouse, so that tests never race `make run` or
    # each other, and a test calling dbt again reuses dbt's parse of the project.
    target = target_dir or Path(settings.warehouse_path).parent / ".dbt-target"
    results = target / "run_results.json"
    results.unlink(missing_ok=True)  # never an earlier call's
    Path(settings.warehouse_path).parent.mkdir(parents=True, exist_ok=True)
    console = io.StringIO()
    with secret_directory(settings.s3) as secrets:
        invocation = [
            *dbt_args(args, settings, secrets, analytic_vars, project_dir=project),
            *project_flags(project),
            # dbt's log beside its target: the SQL it ran, for the tests that read it
            *("--target-path", str(target), "--log-path", str(target / "logs")),
        ]
        capture_stdout_logs(console)
        try:
            outcome = dbtRunner().invoke(invocation)
        finally:
            stop_capture_stdout_logs()
            # dbt-duckdb keeps its database open for the next invocation in the process; the
            # test then opens the file itself, which DuckDB refuses while dbt holds it
            DuckDBConnectionManager.close_all_connections()
    output = console.getvalue()
    if outcome.exception is not None:
        output += f"\n{type(outcome.exception).__name__}: {outcome.exception}"
    statuses, failures = {}, {}
    if results.exists():
        for row in json.loads(results.read_text())["results"]:
            statuses[row["unique_id"]] = row["status"]
            if row.get("failures") is not None:
                failures[row["unique_id"]] = row["failures"]
    return DbtResult(outcome.success, output[-25000:], statuses, failures)


def mart_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    """A mart's rows in a comparable order, without built_at (when a row was written differs
    between two builds by design)."""
    return con.execute(
        f"select columns(c -> c <> 'built_at') from marts.{table} order by all"
    ).fetchall()
