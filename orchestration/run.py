"""`paw run`: the pipeline job, executed in-process: the same code path as the schedule."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from orchestration.jobs import DEFAULT_LOG_LEVEL, PIPELINE_JOB, log_config
from orchestration.warehouse.assets import PUBLISHED
from paw.progress import Progress
from paw.settings import Settings


@dataclass
class PipelineResult:
    success: bool
    run_id: str
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    materialized: int = 0
    published: bool = False
    checks_passed: int = 0
    checks_total: int = 0
    warehouse_path: str = ""

    def failure_line(self) -> str:
        return "; ".join(self.failures) or "the pipeline failed"

    def summary(self) -> str:
        lines = [
            f"pipeline run {self.run_id}: {'succeeded' if self.success else 'FAILED'}; "
            f"{self.materialized} assets materialized, "
            f"{self.checks_passed}/{self.checks_total} checks passed",
        ]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  failure: {f}" for f in self.failures]
        return "\n".join(lines)


def _instance() -> dg.DagsterInstance:
    """The persistent instance when DAGSTER_HOME is set (runs then show in the UI)."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


# Runs `paw run` executes carry the host and process that run them, so that a later `paw run`
# can tell a run whose process was killed from one still going.
HOST_TAG = "paw/host"
PID_TAG = "paw/pid"
# The code location `dg dev` serves (pyproject.toml [tool.dg.project]; a test holds them
# equal). An in-process run has no repository origin of its own; with this label the UI lists
# it under its job (Runs tab, timeline, recent runs), as it does the runs it launched itself.
CODE_LOCATION = "paw"
REPOSITORY_LABEL = f"{SINGLETON_REPOSITORY_NAME}@{CODE_LOCATION}"


def _process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def fail_orphaned_runs(instance: dg.DagsterInstance, job_name: str) -> list[str]:
    """Mark as failed the earlier `paw run` runs of this host still STARTED whose process is
    gone (killed with kill -9), and free their pool slots: left as they are, they would hold
    the run queue's and the writer pool's slots forever."""
    host = socket.gethostname()
    orphans = []
    records = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.STARTED])
    )
    for record in records:
        run = record.dagster_run
        pid = run.tags.get(PID_TAG)
        if run.tags.get(HOST_TAG) == host and pid and _process_is_gone(int(pid)):
            instance.report_run_failed(
                run, f"its process ({host}, pid {pid}) is gone: marked failed by a later paw run"
            )
            # its writing step's slot of the writer pool would otherwise be held forever
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            orphans.append(run.run_id)
    return orphans


def full_refresh_config() -> dict:
    """The pipeline's run config for a full refresh of the warehouse."""
    return {"ops": {"dbt_warehouse": {"config": {"full_refresh": True}}}}


def run_pipeline(
    settings: Settings,
    *,
    run_config: dict | None = None,
    instance: dg.DagsterInstance | None = None,
    progress: Progress | None = None,
    log_level: str = DEFAULT_LOG_LEVEL,
) -> PipelineResult:
    """The pipeline job, in this process. `progress` hears each stage; `log_level` is the level
    of Dagster's own run log on the console."""
    from orchestration.definitions import build_definitions
    from orchestration.resources import PawSettings

    progress = progress or Progress()
    instance = instance or _instance()
    orphans = fail_orphaned_runs(instance, PIPELINE_JOB)
    definitions = build_definitions(
        paw=PawSettings.from_settings(settings), progress=progress, log_level=log_level
    )
    job = definitions.resolve_job_def(PIPELINE_JOB)
    result = job.execute_in_process(
        run_config={**log_config(log_level), **(run_config or {})},
        instance=instance,
        raise_on_error=False,
        tags={
            HOST_TAG: socket.gethostname(),
            PID_TAG: str(os.getpid()),
            REPOSITORY_LABEL_TAG: REPOSITORY_LABEL,
        },
    )
    summary = summarize(result, settings)
    summary.warnings += [f"run {run_id} had died: marked failed" for run_id in orphans]
    warned = len(summary.warnings)
    progress.finish(
        "checks",
        f"{summary.checks_passed}/{summary.checks_total} passed"
        + (f", {warned} warning(s)" if warned else ""),
    )
    progress.finish(
        "publish",
        f"published {settings.warehouse_path}"
        if summary.published
        else "nothing published: the warehouse is unchanged",
    )
    return summary


WRAPPERS = ("Dagster", "RetryRequested")


def _user_error(error) -> str:
    """The first line of the user's exception, not of Dagster's wrappers (nor of the library
    error beneath it, which would not name the file or the bucket)."""
    while error is not None and error.cls_name.startswith(WRAPPERS) and error.cause:
        error = error.cause
    return error.message.strip().splitlines()[0] if error else "unknown error"


def _check_detail(evaluation) -> str:
    """What a failed check says: its description, else (a dbt test) how many rows failed it."""
    if evaluation.description:
        return evaluation.description
    failed_rows = evaluation.metadata.get("dagster_dbt/failed_row_count")
    if failed_rows is None:
        return ""
    count = getattr(failed_rows, "value", failed_rows)
    return f"{count:,} failing row{'' if count == 1 else 's'}"


def summarize(result: dg.ExecuteInProcessResult, settings: Settings) -> PipelineResult:
    out = PipelineResult(
        success=result.success, run_id=result.run_id, warehouse_path=settings.warehouse_path
    )
    retried: dict[str, str] = {}  # step -> the error of its last attempt
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            out.materialized += 1
            out.published |= event.asset_key == PUBLISHED
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            out.checks_total += 1
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if evaluation.passed:
                out.checks_passed += 1
            elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                out.warnings.append(f"check {name} warns: {_check_detail(evaluation)}".strip())
            else:
                out.failures.append(f"check {name} failed: {_check_detail(evaluation)}".strip())
        elif event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY:
            retried[event.step_key] = _user_error(event.event_specific_data.error)
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            message = _user_error(event.event_specific_data.error)
            if "max_retries" in message and event.step_key in retried:
                message = f"{retried[event.step_key]} (after every retry)"
            out.failures.append(f"step {event.step_key} failed: {message}")
    if not out.success and not out.failures:
        out.failures.append("the run failed; see the Dagster UI for the run's logs")
    return out
