"""Every dbt model and seed as a Dagster asset; dbt tests arrive as asset checks."""

from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from ingestion.storage import remove_all_but_newest
from orchestration.dbt.project import PawDbtTranslator, dbt_args, paw_dbt_project
from orchestration.pools import WRITER_POOL
from orchestration.resources import PawSettings
from orchestration.warehouse.files import start_build
from paw.duckdb_secrets import secret_directory


def build_dbt_assets() -> dg.AssetsDefinition:
    project = paw_dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=PawDbtTranslator(),
        name="dbt_warehouse",
        pool=WRITER_POOL,
    )
    def dbt_warehouse(context: dg.AssetExecutionContext, dbt: DbtCliResource, paw: PawSettings):
        settings = paw.get()
        all_keys = set(context.assets_def.keys)
        full_graph = set(context.selected_asset_keys) == all_keys
        build = start_build(settings.warehouse_path, context.run_id, from_published=not full_graph)
        context.log.info(f"building the warehouse into {build}")
        # dagster-dbt leaves one target folder per invocation: keep the newest few
        targets = Path(project.project_dir) / project.target_path
        remove_all_but_newest(list(targets.glob("dbt_warehouse-*")))
        with secret_directory(settings.s3) as secrets:
            args = dbt_args(["build"], settings.with_warehouse(str(build)), secrets)
            yield from dbt.cli(args, context=context).stream()

    return dbt_warehouse
