"""`paw run` killed with kill -9: its dbt ends with it, and the next run marks it failed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import dagster as dg
import pytest

from ingestion.storage import LocalStorage
from paw.settings import project_root
from simulator.sample_data import GenerateOptions, generate
from tests.conftest import local_env

pytestmark = pytest.mark.slow

PAW = str(Path(sys.executable).parent / "paw")


def _children(pid: int) -> dict[int, str]:
    """Child processes of `pid` that are alive: pid -> command line."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state != "Z":
            out[int(entry.name)] = cmdline
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_run_ends_its_dbt_and_the_next_run_marks_it_failed(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(project_root() / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, **local_env(tmp_path), "DAGSTER_HOME": str(home)}
    generate(LocalStorage(tmp_path / "landing"), GenerateOptions(users=50, days=7))

    first = subprocess.Popen(
        [PAW, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    dbt_pid = None
    deadline = time.monotonic() + 180
    while dbt_pid is None and time.monotonic() < deadline and first.poll() is None:
        builds = [p for p, cmd in _children(first.pid).items() if "dbt" in cmd and " build" in cmd]
        dbt_pid = builds[0] if builds else None
        time.sleep(0.2)
    assert dbt_pid is not None, "the run never started dbt"
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    deadline = time.monotonic() + 10
    while _alive(dbt_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(dbt_pid), "dbt went on as an orphan"

    instance = dg.DagsterInstance.from_config(str(home))
    [killed] = instance.get_runs()
    assert killed.status == dg.DagsterRunStatus.STARTED

    second = subprocess.run([PAW, "run"], env=env, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"run {killed.run_id} had died" in second.stdout
    statuses = {run.run_id: run.status for run in instance.get_runs()}
    assert statuses.pop(killed.run_id) == dg.DagsterRunStatus.FAILURE
    assert list(statuses.values()) == [dg.DagsterRunStatus.SUCCESS]
    # the job's own page in the UI finds both, by the filter it uses
    label = f"__repository__@{_workspace_location()}"
    job_runs = instance.get_runs(
        dg.RunsFilter(job_name="paw_pipeline", tags={".dagster/repository": label})
    )
    assert len(job_runs) == 2


def _workspace_location() -> str:
    pyproject = tomllib.loads((project_root() / "pyproject.toml").read_text())
    return pyproject["tool"]["dg"]["project"]["code_location_name"]
