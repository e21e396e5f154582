"""The single-writer rule holds for runs that skip the queue: a second writer's step waits."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import dagster as dg
import pytest

from orchestration.definitions import build_definitions
from orchestration.jobs import INGESTION_JOB
from orchestration.pools import WRITER_POOL
from orchestration.resources import PawSettings
from paw.settings import project_root
from tests.conftest import PawEnv, event

pytestmark = pytest.mark.slow


def test_a_second_writer_waits_for_the_first(paw_env: PawEnv, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(project_root() / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    # disposed at the end: its compute-log manager's `tail -F` children would outlive the test
    with dg.DagsterInstance.from_config(str(home)) as instance:
        _second_writer_waits(paw_env, instance)


def _second_writer_waits(paw_env: PawEnv, instance: dg.DagsterInstance) -> None:
    paw_env.write_lines("a.ndjson", [event(messageId="only")])
    # another run is writing: it holds the pool's one slot (dagster.yaml's default limit)
    assert instance.event_log_storage.initialize_concurrency_limit_to_default(WRITER_POOL)
    held = instance.event_log_storage.claim_concurrency_slot(WRITER_POOL, "first-run", "step")
    assert held.is_claimed
    job = build_definitions(paw=PawSettings.from_settings(paw_env.settings)).resolve_job_def(
        INGESTION_JOB
    )
    outcome: dict = {}
    second = threading.Thread(
        target=lambda: outcome.update(
            result=job.execute_in_process(instance=instance, raise_on_error=False)
        )
    )
    second.start()
    time.sleep(8)
    assert second.is_alive() and paw_env.lake_events() == []
    instance.event_log_storage.free_concurrency_slots_for_run("first-run")
    second.join(120)
    assert outcome["result"].success
    # the steps left no process running: Dagster's compute-log tails ended with them (a worker
    # started from a background shell kept them running: tests/conftest.py)
    children = subprocess.run(
        ["pgrep", "-P", str(os.getpid()), "-f", "tail -F"], capture_output=True, text=True
    )
    assert children.stdout.split() == []
    assert [e["event_id"] for e in paw_env.lake_events()] == ["only"]
