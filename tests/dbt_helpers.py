"""Running the real dbt project from tests, as a subprocess with the test's environment."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DBT_PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"


@dataclass
class DbtResult:
    success: bool
    output: str


def run_dbt(args: list[str], env: dict[str, str] | None = None) -> DbtResult:
    dbt = Path(sys.executable).parent / "dbt"
    proc = subprocess.run(
        [str(dbt), *args, "--profiles-dir", str(DBT_PROJECT), "--project-dir", str(DBT_PROJECT)],
        cwd=DBT_PROJECT,
        env={**os.environ, **(env or {}), "DBT_TARGET_PATH": str(_target_dir())},
        capture_output=True,
        text=True,
        timeout=900,
    )
    return DbtResult(proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:])


def _target_dir() -> Path:
    # Tests run their own dbt target folder so they never race `make run` or each other.
    import tempfile

    return Path(tempfile.mkdtemp(prefix="paw-dbt-target-"))
