"""Running the real dbt project from tests, as a subprocess with the test's environment."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DBT_PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"


@dataclass
class DbtResult:
    success: bool
    output: str


def run_dbt(args: list[str], env: dict[str, str] | None = None) -> DbtResult:
    dbt = Path(sys.executable).parent / "dbt"
    project = ["--profiles-dir", str(DBT_PROJECT), "--project-dir", str(DBT_PROJECT)]
    # Each call has its own dbt target folder, so tests never race `make run` or each other.
    with tempfile.TemporaryDirectory(prefix="paw-dbt-target-") as target:
        proc = subprocess.run(
            [str(dbt), *args, *project],
            cwd=DBT_PROJECT,
            env={**os.environ, **(env or {}), "DBT_TARGET_PATH": target},
            capture_output=True,
            text=True,
            timeout=900,
        )
    return DbtResult(proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:])
