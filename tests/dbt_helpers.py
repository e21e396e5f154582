"""Running the real dbt project from tests, as a subprocess with the test's environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

DBT_PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"


@dataclass
class DbtResult:
    success: bool
    output: str
    # node name -> status, from dbt's run_results.json (not from its console text)
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> set[str]:
        return {name for name, status in self.statuses.items() if status in ("fail", "error")}


def run_dbt(
    args: list[str], env: dict[str, str] | None = None, project: Path = DBT_PROJECT
) -> DbtResult:
    dbt = Path(sys.executable).parent / "dbt"
    where = ["--profiles-dir", str(project), "--project-dir", str(project)]
    # Each call has its own dbt target folder, so tests never race `make run` or each other.
    with tempfile.TemporaryDirectory(prefix="paw-dbt-target-") as target:
        proc = subprocess.run(
            [str(dbt), *args, *where],
            cwd=project,
            env={**os.environ, **(env or {}), "DBT_TARGET_PATH": target},
            capture_output=True,
            text=True,
            timeout=900,
        )
        results = Path(target) / "run_results.json"
        statuses = {}
        if results.exists():
            for row in json.loads(results.read_text())["results"]:
                statuses[row["unique_id"].split(".")[2]] = row["status"]
    return DbtResult(proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:], statuses)
