"""Running the real dbt project from tests, through paw's one dbt invocation."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.dbt.project import dbt_project_dir, run_dbt_command
from paw.settings import Settings

DBT_PROJECT = dbt_project_dir()


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
) -> DbtResult:
    # Each call has its own dbt target folder, so tests never race `make run` or each other; a
    # test calling dbt many times passes its own folder, so that dbt parses the project once.
    with tempfile.TemporaryDirectory(prefix="paw-dbt-target-") as scratch:
        target = str(target_dir or scratch)
        proc = run_dbt_command(
            args,
            settings,
            project_dir=project,
            capture_output=True,
            env={**os.environ, "DBT_TARGET_PATH": target},
        )
        results = Path(target) / "run_results.json"
        statuses = {}
        if results.exists():
            for row in json.loads(results.read_text())["results"]:
                statuses[row["unique_id"]] = row["status"]
    return DbtResult(proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:], statuses)
