"""What runs when: the pipeline job, the nightly schedule and the landing-zone sensor."""

import hashlib
import os

import dagster as dg

from ingestion.lake import processed_files, read_manifest
from ingestion.land import is_landing_file
from ingestion.storage import open_storage
from orchestration.lake.assets import LAKE_EVENTS, LAKE_MANIFEST, LAKE_QUARANTINE
from orchestration.resources import PawSettings

PIPELINE_JOB = "paw_pipeline"
INGESTION_JOB = "paw_ingestion"
DEFAULT_NIGHTLY_CRON = "0 2 * * *"

# Runs that write the lake or the warehouse carry this tag; the run queue (dagster.yaml) lets
# one such run at a time through, so a second one waits instead of racing the first.
WRITER_TAG = {"paw/writer": "true"}


def pipeline_job():
    return dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingestion, the full dbt build with its tests, the extra checks, publish.",
        tags=WRITER_TAG,
    )


def ingestion_job():
    return dg.define_asset_job(
        INGESTION_JOB,
        selection=dg.AssetSelection.assets(LAKE_EVENTS, LAKE_QUARANTINE, LAKE_MANIFEST),
        description="Ingestion only: new landing files into the lake.",
        tags=WRITER_TAG,
    )


def nightly_schedule(cron: str | None = None) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="nightly",
        job_name=PIPELINE_JOB,
        cron_schedule=cron or os.environ.get("PAW_NIGHTLY_CRON", DEFAULT_NIGHTLY_CRON),
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The whole pipeline every night (PAW_NIGHTLY_CRON, default 02:00 UTC).",
    )


def new_landing_files(paw: PawSettings) -> list[str]:
    settings = paw.get()
    landing = open_storage(settings.landing_url, settings.s3)
    processed = processed_files(read_manifest(open_storage(settings.lake_url, settings.s3)))
    new = []
    for obj in landing.list():
        if not is_landing_file(obj.key):
            continue
        seen = processed.get(obj.key)
        if seen is None or seen.size_bytes != obj.size:
            new.append(f"{obj.key}:{obj.size}")
    return new


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
