"""Every dbt model and seed as a Dagster asset; dbt tests arrive as asset checks."""

import contextlib
import os
from collections.abc import Iterator

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.dbt.project import PawDbtTranslator, dbt_build_args, paw_dbt_project
from orchestration.resources import PawSettings
from orchestration.warehouse.files import start_build


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """dbt (a subprocess) reads its paths from the environment: point it at this run's build."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_dbt_assets() -> dg.AssetsDefinition:
    project = paw_dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=PawDbtTranslator(),
        name="dbt_warehouse",
        op_tags={"paw/writer": "warehouse"},
    )
    def dbt_warehouse(context: dg.AssetExecutionContext, dbt: DbtCliResource, paw: PawSettings):
        settings = paw.get()
        all_keys = set(context.assets_def.keys)
        full_graph = set(context.selected_asset_keys) == all_keys
        build = start_build(settings.warehouse_path, context.run_id, from_published=not full_graph)
        context.log.info(f"building the warehouse into {build}")
        env = {**settings.dbt_env(), "PAW_WAREHOUSE": str(build)}
        with _environment(env):
            invocation = dbt.cli(dbt_build_args(), context=context)
            yield from invocation.stream()

    return dbt_warehouse
