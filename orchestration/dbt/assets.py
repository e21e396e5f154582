"""Every dbt model and seed as a Dagster asset; dbt tests arrive as asset checks."""

import logging
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
from dagster_dbt import dbt_assets
from pydantic import Field

from ingestion.lake import committed_run_ids
from ingestion.storage import open_storage, remove_all_but_newest
from orchestration.dbt.incremental import (
    incremental_base_problem,
    project_definitions,
    published_definitions,
)
from orchestration.dbt.project import (
    NIGHTLY_BUILD,
    PawDbtTranslator,
    build_target,
    dbt_args,
    keep_parse,
    paw_dbt_project,
)
from orchestration.dbt.resource import PawDbtCliResource
from orchestration.pools import WRITER_POOL
from orchestration.resources import PawSettings
from orchestration.warehouse.files import end_build, row_count_directory, start_build
from paw.duckdb_secrets import secret_directory
from paw.progress import Progress


class DbtBuildConfig(dg.Config):
    """How the nightly build treats what the published warehouse already holds."""

    full_refresh: bool = Field(
        default=False,
        description=(
            "Rebuild every model from the whole lake, into an empty warehouse, instead of "
            "building incrementally on a copy of the published one (`paw run --full-refresh`)."
        ),
    )


log = logging.getLogger("paw.build")


def build_dbt_assets() -> dg.AssetsDefinition:
    project = paw_dbt_project()

    # No `project=`: dagster-dbt would attach the DbtProject object itself to every asset's
    # metadata, which the UI shows as "[DbtProject] (unserializable)".
    @dbt_assets(
        manifest=project.manifest_path,
        dagster_dbt_translator=PawDbtTranslator(),
        name="dbt_warehouse",
        pool=WRITER_POOL,
    )
    def dbt_warehouse(
        context: dg.AssetExecutionContext,
        dbt: PawDbtCliResource,
        paw: PawSettings,
        progress: dg.ResourceParam[Progress],
        config: DbtBuildConfig,
    ):
        settings = paw.get()
        # Incremental by default: the build starts from a copy of the published warehouse and
        # incremental models add what is new; it is published only when complete. A full
        # refresh of the whole graph starts empty; of a part, from the copy (the rest is there).
        full_graph = set(context.selected_asset_keys) == set(context.assets_def.keys)
        full_refresh = config.full_refresh
        definitions = project_definitions(Path(project.project_dir))
        problem = incremental_base_problem(
            Path(settings.warehouse_path),
            project.manifest_path,
            committed_run_ids(open_storage(settings.lake_url, settings.s3)),
            definitions,
        )
        if problem and not full_refresh:
            message = f"{problem}: a full refresh instead of an incremental build"
            context.log.warning(message)
            log.warning(message)  # on the console of `paw run` too
            full_refresh = True
        if not full_graph:
            # the models left out keep what they were built from: the record stays as it was
            definitions = published_definitions(Path(settings.warehouse_path))
        build = start_build(
            settings.warehouse_path,
            context.run.run_id,
            from_published=not (full_refresh and full_graph),
        )
        context.log.info(f"building the warehouse into {build}")
        # dagster-dbt leaves one target folder per invocation: keep the newest few
        targets = Path(project.project_dir) / project.target_path
        remove_all_but_newest(list(targets.glob("dbt_warehouse-*")))
        target = build_target(targets, context.run.run_id, build)
        row_counts = row_count_directory(settings.warehouse_path)
        shutil.rmtree(row_counts, ignore_errors=True)
        row_counts.mkdir(parents=True)
        try:
            with secret_directory(settings.s3) as secrets:
                args = dbt_args(
                    [*NIGHTLY_BUILD, *(["--full-refresh"] if full_refresh else [])],
                    settings.with_warehouse(str(build)),
                    secrets,
                    {"paw_row_count_directory": str(row_counts)},
                    definitions=definitions,
                )
                events = dbt.cli(args, context=context, target_path=target).stream()
                with progress.quieted():
                    yield from _reported(context, events, row_counts, progress)
            keep_parse(target, targets, build)
        finally:
            end_build(settings.warehouse_path, context.run.run_id)

    return dbt_warehouse


def _reported(
    context: dg.AssetExecutionContext, events: Iterable, row_counts: Path, progress: Progress
) -> Iterator:
    """dbt's events, each table's materialization with its row count, the build's progress
    reported as models finish."""
    total = len(context.selected_asset_keys)
    progress.start("build", total, "models")
    built = tests = failed_tests = 0
    for event in events:
        if isinstance(event, dg.Output):
            key = context.asset_key_for_output(event.output_name)
            rows = _row_count(row_counts, key)
            if rows is not None:
                event = event.with_metadata({**event.metadata, "dagster/row_count": rows})
            built += 1
            progress.advance("build", built, detail=f"{tests:,} tests")
        elif isinstance(event, dg.AssetCheckResult):
            tests += 1
            failed_tests += 0 if event.passed else 1
        yield event
    failures = f", {failed_tests} FAILED" if failed_tests else ""
    progress.finish("build", f"{built} models and seeds built, {tests} dbt tests{failures}")


def _row_count(row_counts: Path, key: dg.AssetKey) -> int | None:
    path = row_counts / f"{'.'.join(key.path)}.csv"
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
