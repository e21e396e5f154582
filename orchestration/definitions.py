"""The one Dagster entry point (workspace.yaml loads it; `paw run` executes its job)."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.dbt.assets import build_dbt_assets
from orchestration.dbt.project import dbt_executable, paw_dbt_project
from orchestration.lake.assets import land_events_asset, landing_zone
from orchestration.resources import PawSettings
from orchestration.schedules import (
    ingestion_job,
    landing_zone_sensor,
    nightly_schedule,
    pipeline_job,
)
from orchestration.warehouse.assets import published_warehouse, stg_events_checks


def build_definitions() -> dg.Definitions:
    project = paw_dbt_project()
    return dg.Definitions(
        assets=[landing_zone, land_events_asset, build_dbt_assets(), published_warehouse],
        asset_checks=[stg_events_checks],
        jobs=[pipeline_job(), ingestion_job()],
        schedules=[nightly_schedule()],
        sensors=[landing_zone_sensor],
        resources={
            "paw": PawSettings(),
            "dbt": DbtCliResource(project_dir=project, dbt_executable=dbt_executable()),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
