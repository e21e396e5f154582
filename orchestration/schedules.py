"""When the pipeline runs on its own: the nightly schedule."""

import dagster as dg

from orchestration.jobs import PIPELINE_JOB

DEFAULT_NIGHTLY_CRON = "0 2 * * *"


def nightly_schedule(cron: str | None = None) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="nightly",
        job_name=PIPELINE_JOB,
        cron_schedule=cron or DEFAULT_NIGHTLY_CRON,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The whole pipeline every night (PAW_NIGHTLY_CRON, default 02:00 UTC).",
    )
