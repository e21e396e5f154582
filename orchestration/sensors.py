"""The landing-zone sensor: starts ingestion when new files arrive (ships stopped)."""

import hashlib

import dagster as dg

from ingestion.lake import latest_entries, read_ingestion_log
from ingestion.selection import select_landing_files
from ingestion.storage import open_storage
from orchestration.jobs import INGESTION_JOB
from orchestration.resources import PawSettings


def new_landing_files(paw: PawSettings) -> list[str]:
    """The files the next ingestion run would take, with their versions: ingestion's own
    selection, so the sensor and ingestion always agree on what is new."""
    settings = paw.get()
    landing = open_storage(settings.landing_url, settings.s3)
    entries = latest_entries(read_ingestion_log(open_storage(settings.lake_url, settings.s3)))
    return [f"{o.key}:{o.size}:{o.version}" for o in select_landing_files(landing, entries).new]


@dg.sensor(
    name="landing_zone",
    job_name=INGESTION_JOB,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts ingestion when new files arrive in the landing zone (ships off).",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, paw: PawSettings):
    new = new_landing_files(paw)
    if not new:
        return dg.SkipReason("no new landing files")
    run_key = hashlib.sha256("\n".join(sorted(new)).encode()).hexdigest()[:16]
    context.log.info(f"{len(new)} new landing file(s)")
    return dg.RunRequest(run_key=run_key, tags={"paw/new_files": str(len(new))})
