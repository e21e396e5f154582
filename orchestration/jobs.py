"""The jobs: the whole pipeline, and ingestion alone (what the landing-zone sensor starts)."""

import dagster as dg

from orchestration.lake.assets import LAKE_EVENTS, LAKE_INGESTION_LOG, LAKE_QUARANTINE

PIPELINE_JOB = "paw_pipeline"
INGESTION_JOB = "paw_ingestion"

# Runs that write the lake or the warehouse carry this tag; the run queue (dagster.yaml) lets
# one such run at a time out of the queue. Runs that skip the queue (`paw run`) are held by the
# writer pool (orchestration/pools.py) step by step instead.
WRITER_TAG = {"paw/writer": "true"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LOG_LEVEL = "INFO"


def log_config(log_level: str) -> dict:
    """Run config setting the level of the run's console log (PAW_LOG_LEVEL for the schedule)."""
    level = log_level.upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"PAW_LOG_LEVEL={log_level!r}: expected one of {', '.join(LOG_LEVELS)}")
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def pipeline_job(log_level: str = DEFAULT_LOG_LEVEL):
    return dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingestion, the full dbt build with its tests, the extra checks, publish.",
        tags=WRITER_TAG,
        config=log_config(log_level),
    )


def ingestion_job(log_level: str = DEFAULT_LOG_LEVEL):
    return dg.define_asset_job(
        INGESTION_JOB,
        selection=dg.AssetSelection.assets(LAKE_EVENTS, LAKE_QUARANTINE, LAKE_INGESTION_LOG),
        description="Ingestion only: new landing files into the lake.",
        tags=WRITER_TAG,
        config=log_config(log_level),
    )
