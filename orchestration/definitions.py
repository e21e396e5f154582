"""The one Dagster entry point (`dg dev` loads it, see pyproject.toml's [tool.dg]; `paw run`
executes its job)."""

from __future__ import annotations

import dagster as dg

from orchestration.dbt.assets import build_dbt_assets
from orchestration.dbt.project import dbt_executable, paw_dbt_project
from orchestration.dbt.resource import PawDbtCliResource
from orchestration.jobs import DEFAULT_LOG_LEVEL, ingestion_job, pipeline_job
from orchestration.lake.assets import ingest_asset, landing_zone
from orchestration.resources import PawSettings
from orchestration.schedules import nightly_schedule
from orchestration.sensors import landing_zone_sensor
from orchestration.warehouse.assets import published_warehouse_asset, stg_events_checks
from orchestration.warehouse.usage_checks import usage_checks
from paw.progress import Progress


def build_definitions(
    paw: PawSettings | None = None,
    nightly_cron: str | None = None,
    progress: Progress | None = None,
    log_level: str | None = None,
) -> dg.Definitions:
    """The definitions; `paw` defaults to the resource bound to the environment's variables,
    `progress` to the silent reporter (`paw run` shows progress on the console)."""
    project = paw_dbt_project()
    dbt_warehouse = build_dbt_assets()
    return dg.Definitions(
        assets=[
            landing_zone,
            ingest_asset,
            dbt_warehouse,
            published_warehouse_asset(dbt_warehouse.keys),
        ],
        asset_checks=[stg_events_checks, usage_checks],
        jobs=[
            pipeline_job(log_level or DEFAULT_LOG_LEVEL),
            ingestion_job(log_level or DEFAULT_LOG_LEVEL),
        ],
        schedules=[nightly_schedule(nightly_cron)],
        sensors=[landing_zone_sensor],
        resources={
            "paw": paw or PawSettings.bound_to_environment(),
            "dbt": PawDbtCliResource(project_dir=project, dbt_executable=dbt_executable()),
            "progress": dg.ResourceDefinition.hardcoded_resource(
                progress or Progress(), "How far the pipeline's stages are (paw run's console)."
            ),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    import os

    # read when the code location loads, never at import
    return build_definitions(
        nightly_cron=os.environ.get("PAW_NIGHTLY_CRON"),
        log_level=os.environ.get("PAW_LOG_LEVEL"),
    )
