"""The quickstart as a new user meets it (`make run` after setup: `paw generate --if-empty`,
then `paw run`), in subprocesses with a fresh Dagster home: a quiet run with a line per stage,
row counts on the assets, and column descriptions stored in the warehouse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from paw.settings import project_root
from tests.conftest import local_env

pytestmark = pytest.mark.slow

MAX_LINES = 60


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> tuple[dict[str, str], str]:
    root = tmp_path_factory.mktemp("quickstart")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(project_root() / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, **local_env(root), "DAGSTER_HOME": str(home)}
    paw = [str(Path(sys.executable).parent / "paw")]
    output = ""
    for command in (["generate", "--if-empty", "--users", "500", "--days", "40"], ["run"]):
        proc = subprocess.run(
            paw + command, env=env, cwd=project_root(), capture_output=True, text=True
        )
        output += proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-4000:]
    return env, output


def _published_value(env: dict[str, str], sql: str):
    """The first value of a query on the published warehouse, read-only."""
    con = duckdb.connect(env["PAW_WAREHOUSE"], read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_the_quickstart_says_what_it_does_in_a_few_lines(quickstart):
    _, output = quickstart
    lines = output.splitlines()
    assert len(lines) <= MAX_LINES, output
    for stage in ("ingest", "build", "checks", "publish"):
        assert sum(line.startswith(f"{stage} ") for line in lines) == 1, (stage, output)
    for noise in ("DEBUG", "alembic", "Running with dbt", "START sql", "Warning"):
        assert noise not in output, (noise, output)
    assert not any(line.rstrip().endswith((".ndjson", ".ndjson.gz")) for line in lines)
    assert "events from " in output and "page_viewed (path = /pricing)" in output
    assert output.count(local_env(Path("/"))["PAW_WAREHOUSE"].split("/")[-1]) <= 2
    assert "make dev" in output and "docs/semantics.md" in output


def test_every_materialized_asset_carries_its_row_count(quickstart):
    env, _ = quickstart
    os.environ["DAGSTER_HOME"], previous = env["DAGSTER_HOME"], os.environ.get("DAGSTER_HOME")
    try:
        with dg.DagsterInstance.get() as instance:
            events = instance.get_latest_materialization_event(dg.AssetKey(["marts", "fct_events"]))
            lake = instance.get_latest_materialization_event(dg.AssetKey(["lake", "events"]))
            published = instance.get_latest_materialization_event(
                dg.AssetKey(["warehouse", "published"])
            )
            seed = instance.get_latest_materialization_event(dg.AssetKey(["staging", "funnels"]))
    finally:
        if previous is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = previous
    fct_events = _published_value(env, "select count(*) from marts.fct_events")
    row_count = "dagster/row_count"
    assert events.asset_materialization.metadata[row_count].value == fct_events
    assert seed.asset_materialization.metadata[row_count].value == 4  # four funnels
    lake_metadata = lake.asset_materialization.metadata
    assert lake_metadata[row_count].value >= fct_events
    columns = [c.name for c in lake_metadata["dagster/column_schema"].value.columns]
    assert columns[:3] == ["event_id", "event_type", "event_name"]
    assert published.asset_materialization.metadata[row_count].value > fct_events


def test_column_descriptions_are_stored_in_the_warehouse(quickstart):
    env, _ = quickstart
    comment = _published_value(
        env,
        "select comment from duckdb_columns() where schema_name = 'marts' "
        "and table_name = 'fct_usage_daily' and column_name = 'subject_id'",
    )
    table_comment = _published_value(
        env,
        "select comment from duckdb_tables() where schema_name = 'marts' "
        "and table_name = 'agg_event_catalog'",
    )
    assert comment == "The group id or person id billed."
    assert table_comment.startswith("The event catalog")


def test_a_table_has_built_at_exactly_when_its_documentation_says_so(quickstart):
    """The data tests learn whether a model has built_at (and so which rows a build wrote) from
    its documented columns (macros/tests/generic_tests.sql: paw_newest_rows_only)."""
    env, _ = quickstart
    manifest = json.loads((project_root() / "dbt_project" / "target" / "manifest.json").read_text())
    con = duckdb.connect(env["PAW_WAREHOUSE"], read_only=True)
    try:
        stamped = set(
            con.execute(
                "select schema_name, table_name from duckdb_columns() "
                "where column_name = 'built_at'"
            ).fetchall()
        )
    finally:
        con.close()
    documented = {
        (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed") and "built_at" in node["columns"]
    }
    assert len(stamped) > 5
    assert documented == stamped


def test_dbt_docs_generate_reads_the_published_warehouse_without_writing_it(quickstart):
    env, _ = quickstart
    warehouse = Path(env["PAW_WAREHOUSE"])
    before = (warehouse.stat().st_mtime_ns, warehouse.stat().st_mode)
    paw = str(Path(sys.executable).parent / "paw")
    target = warehouse.parent / "docs-target"
    proc = subprocess.run(
        [paw, "dbt", "docs", "generate", "--target-path", str(target)],
        env=env,
        cwd=project_root(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (target / "catalog.json").exists()
    assert (warehouse.stat().st_mtime_ns, warehouse.stat().st_mode) == before


def test_the_published_warehouse_is_in_duckdb_1_5_storage_format(quickstart):
    # created by the build's dbt connection (profiles.yml), kept by the publish's rename: the
    # default format (DuckDB 0.10's) compresses text less well and wrote the 10M build 12% slower
    env, _ = quickstart
    tags = _published_value(
        env, "select tags from duckdb_databases() where database_name = current_database()"
    )
    assert tags["storage_version"] == "v1.5.0+"
