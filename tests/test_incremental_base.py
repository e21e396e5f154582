"""When the published warehouse cannot be the base of an incremental build, the nightly does a
full refresh instead: a warehouse that cannot be opened, one whose incremental tables predate
the project's columns, one built from other definitions (a seed, a var or a model edited since),
and one that staged runs the lake no longer has committed."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestion.ingest import ingest
from ingestion.lake import committed_run_ids
from ingestion.storage import LocalStorage
from orchestration.dbt.incremental import (
    incremental_base_problem,
    incremental_tables,
    project_definitions,
    published_definitions,
)
from orchestration.dbt.project import dbt_project_dir, paw_dbt_project
from paw.settings import Settings
from tests.conftest import PawEnv, event, local_env

RUN = "20260101T000000Z-0123abcd"
DEFINITIONS = project_definitions(dbt_project_dir())


def warehouse_with_incremental_tables(
    path: Path, manifest: Path, *, drop: str = "", definitions: dict | None = DEFINITIONS
) -> Path:
    """A real DuckDB file with every incremental table the project documents, one run staged,
    built from `definitions` (None: a warehouse that records none)."""
    con = duckdb.connect(str(path))
    for (schema, table), columns in incremental_tables(manifest).items():
        kept = sorted(c for c in columns if f"{table}.{c}" != drop)
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create table {schema}.{table} ({', '.join(f'{c} varchar' for c in kept)})")
    con.execute(f"insert into staging.stg_events (run_id) values ('{RUN}')")
    if definitions is not None:
        con.execute(
            "create table staging.stg_project_definitions "
            "(definition varchar, content_hash varchar)"
        )
        con.executemany(
            "insert into staging.stg_project_definitions values (?, ?)", list(definitions.items())
        )
    con.close()
    return path


def test_a_current_warehouse_of_committed_runs_is_a_base(tmp_path):
    manifest = Path(paw_dbt_project().manifest_path)
    warehouse = warehouse_with_incremental_tables(tmp_path / "w.duckdb", manifest)
    assert incremental_base_problem(warehouse, manifest, {RUN, "a-later-run"}, DEFINITIONS) is None


def test_a_warehouse_that_staged_a_run_the_lake_lost_is_rebuilt(tmp_path):
    manifest = Path(paw_dbt_project().manifest_path)
    warehouse = warehouse_with_incremental_tables(tmp_path / "w.duckdb", manifest)
    problem = incremental_base_problem(warehouse, manifest, {"another-run"}, DEFINITIONS)
    assert problem is not None and "no longer has committed" in problem and RUN in problem


def test_a_warehouse_older_than_the_project_is_rebuilt(tmp_path):
    manifest = Path(paw_dbt_project().manifest_path)
    warehouse = warehouse_with_incremental_tables(
        tmp_path / "w.duckdb", manifest, drop="fct_events.built_at"
    )
    problem = incremental_base_problem(warehouse, manifest, {RUN}, DEFINITIONS)
    assert problem is not None and "marts.fct_events" in problem


def test_a_warehouse_that_cannot_be_opened_is_rebuilt(tmp_path):
    manifest = Path(paw_dbt_project().manifest_path)
    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(b"not a database" * 100)
    problem = incremental_base_problem(warehouse, manifest, {RUN}, DEFINITIONS)
    assert problem is not None and "cannot be opened" in problem


def test_the_committed_runs_are_read_from_the_lake(tmp_path):
    env = PawEnv(tmp_path, Settings.from_env(local_env(tmp_path)))
    env.write_lines("a.ndjson", [event(messageId="a")])
    first = ingest(env.settings).run_id
    env.write_lines("b.ndjson", [event(messageId="b")])
    second = ingest(env.settings).run_id
    assert committed_run_ids(LocalStorage(Path(env.settings.lake_url))) == {first, second}


def test_a_warehouse_built_from_other_definitions_is_rebuilt(tmp_path):
    """docs/orchestration.md, definitions: an edited seed or var, named in the warning."""
    manifest = Path(paw_dbt_project().manifest_path)
    edited = {**DEFINITIONS, "seeds/funnels.csv": "0" * 16, "var paw_session_timeout_minutes": "1"}
    warehouse = warehouse_with_incremental_tables(tmp_path / "w.duckdb", manifest)
    problem = incremental_base_problem(warehouse, manifest, {RUN}, edited)
    assert problem == (
        "the project's definitions changed since the published build: "
        "seeds/funnels.csv, var paw_session_timeout_minutes"
    )
    unrecorded = warehouse_with_incremental_tables(
        tmp_path / "u.duckdb", manifest, definitions=None
    )
    problem = incremental_base_problem(unrecorded, manifest, {RUN}, DEFINITIONS)
    assert problem is not None and "does not record the definitions" in problem


def test_the_definitions_are_every_seed_model_macro_and_var(tmp_path):
    """What a build records: the seeds, models and macros (not the data tests), each var as
    this invocation sets it, and the models' configs in dbt_project.yml."""
    names = set(DEFINITIONS)
    assert {"seeds/funnels.csv", "models/staging/stg_events.sql", "macros/incremental.sql"} <= names
    assert "var paw_session_timeout_minutes" in names and "dbt_project.yml" in names
    assert not any(name.startswith(("macros/tests/", "tests/")) for name in names)
    overridden = project_definitions(dbt_project_dir(), {"paw_session_timeout_minutes": 10})
    assert {n for n in names if overridden[n] != DEFINITIONS[n]} == {
        "var paw_session_timeout_minutes"
    }


def test_a_build_of_part_of_the_graph_records_the_published_definitions(tmp_path):
    """What a partial build records (orchestration/dbt/assets.py): the published warehouse's
    record, so that the models it left out still count as built from it; nothing without a
    record or a warehouse."""
    manifest = Path(paw_dbt_project().manifest_path)
    edited = {**DEFINITIONS, "seeds/funnels.csv": "0" * 16}
    warehouse = warehouse_with_incremental_tables(
        tmp_path / "w.duckdb", manifest, definitions=edited
    )
    assert published_definitions(warehouse) == edited
    unrecorded = warehouse_with_incremental_tables(
        tmp_path / "u.duckdb", manifest, definitions=None
    )
    assert published_definitions(unrecorded) == {}
    assert published_definitions(tmp_path / "none.duckdb") == {}
