"""paw's own build machinery in macros/, on small models written by the test: tables written in
chunks of persons (macros/chunked_tables.sql) and the paw_upsert incremental strategy
(macros/incremental.sql)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from paw.settings import Settings
from tests.conftest import local_env
from tests.dbt_helpers import copy_dbt_project, run_dbt

pytestmark = pytest.mark.slow


def test_the_chunks_are_sized_from_the_memory_limit_unless_paw_chunk_rows_is_set(tmp_path):
    """One row a chunk per 400 bytes of PAW_BUILD_MEMORY_LIMIT (as DuckDB reads the size), or per
    the model's paw_chunk_row_bytes (the var paw_chunk_rows, when set, is the size: the next
    test sets it); a limit DuckDB cannot read is refused naming the variable."""
    env = {**local_env(tmp_path), "PAW_BUILD_MEMORY_LIMIT": "250MB"}
    settings = Settings.from_env(env)
    Path(settings.warehouse_path).parent.mkdir(parents=True)
    duckdb.connect(settings.warehouse_path).close()  # compile opens the warehouse read-only
    chunk_rows = ["compile", "--quiet", "--inline", "{{ paw_chunk_rows() }}"]
    assert run_dbt(chunk_rows, settings).output.strip() == "625000"
    # a model whose rows take less memory says so: one row per paw_chunk_row_bytes
    narrow = "{{ config(paw_chunk_row_bytes=125) }}{{ paw_chunk_rows() }}"
    assert run_dbt([*chunk_rows[:-1], narrow], settings).output.strip() == "2000000"
    with pytest.raises(ValueError, match="PAW_BUILD_MEMORY_LIMIT='80%' is not a memory size"):
        Settings.from_env({**env, "PAW_BUILD_MEMORY_LIMIT": "80%"})


def test_the_build_keeps_the_blocks_it_frees_up_to_its_memory_limit(tmp_path):
    """DuckDB's block allocator keeps PAW_BUILD_MEMORY_LIMIT of freed blocks for reuse
    (profiles.yml): memory handed back to the system is faulted in again at its next use."""
    settings = Settings.from_env({**local_env(tmp_path), "PAW_BUILD_MEMORY_LIMIT": "250MB"})
    Path(settings.warehouse_path).parent.mkdir(parents=True)
    duckdb.connect(settings.warehouse_path).close()  # compile opens the warehouse read-only
    setting = (
        "{% if execute %}"  # dbt parses the query first, with no database
        "{% set kept = run_query(\"select current_setting('block_allocator_memory')\") %}"
        "{{ kept.rows[0][0] }}{% endif %}"
    )
    kept = run_dbt(["compile", "--quiet", "--inline", setting], settings).output.strip()
    with duckdb.connect() as con:  # the limit as DuckDB prints it (the default keeps nothing)
        con.execute("set block_allocator_memory = '250MB'")
        expected = con.execute("select current_setting('block_allocator_memory')").fetchone()[0]
    assert kept == expected == "238.4 MiB"


def test_compiling_the_tests_asks_a_warehouse_an_older_paw_built_nothing(tmp_path):
    """`paw dbt compile` and `docs generate` read the published warehouse, which an older paw
    may have built without the built_at a model has since gained (the next build rebuilds it):
    a uniqueness test compiles to its whole-table check instead of asking that table for its
    newest built_at (which failed with DuckDB's "built_at not found")."""
    settings = Settings.from_env(local_env(tmp_path))
    Path(settings.warehouse_path).parent.mkdir(parents=True)
    with duckdb.connect(settings.warehouse_path) as con:  # fct_nps_responses before built_at
        con.execute("create schema marts")
        con.execute("create table marts.fct_nps_responses (event_id varchar, score integer)")
    test = "fct_nps_responses_event_id_is_unique"
    target = tmp_path / "dbt-target"
    result = run_dbt(["compile", "--select", test], settings, target_dir=target)
    assert result.success, result.output
    compiled = next(target.glob(f"compiled/**/{test}.sql")).read_text()
    assert "fct_nps_responses" in compiled and "lag(key_hash)" in compiled


def test_a_chunked_model_reads_its_inputs_by_chunk_or_fails_its_build(tmp_path):
    """A model configured paw_chunked is written one chunk of persons at a time once its input
    outgrows paw_chunk_rows: read through paw_in_chunk, each row lands once; a model that
    forgets paw_in_chunk fails rather than writing every row once per chunk."""
    project = copy_dbt_project(tmp_path)
    chunked = "{{ config(materialized='table', paw_chunked=true) }}\n"
    (project / "models" / "rules_in_chunks.sql").write_text(
        chunked + "select * from {{ ref('path_cleaning') }} where {{ paw_in_chunk('rule_order') }}"
    )
    (project / "models" / "rules_without_chunks.sql").write_text(
        chunked + "select * from {{ ref('path_cleaning') }}"
    )
    settings = Settings.from_env(local_env(tmp_path))
    result = run_dbt(
        ["build", "--select", "path_cleaning", "rules_in_chunks", "rules_without_chunks"],
        settings,
        project=project,
        analytic_vars={"paw_chunk_rows": 1},  # the seed's 3 rules: 3 chunks
    )
    assert result.failed == {"rules_without_chunks"}, result.output[-3000:]
    assert "reads no input through paw_in_chunk" in result.output
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        rules = con.execute("select rule_order from rules_in_chunks order by 1").fetchall()
    assert rules == [(1,), (2,), (3,)]
    run_sql = next(
        Path(settings.warehouse_path).parent.glob(".dbt-target/run/**/rules_in_chunks.sql")
    )
    assert run_sql.read_text().count("set variable paw_chunk =") == 3


def test_paw_upsert_updates_and_inserts_by_key_and_refuses_duplicate_keys(tmp_path):
    """The incremental strategy paw_upsert (macros/incremental.sql): a row whose key is in the
    table is updated in place, a new key inserted; a build with two rows for one key fails,
    naming the model, where an UPDATE would silently keep one of them. With
    `paw_updated_columns`, an update sets those columns and built_at only (the others are the
    row's own), and a name that is no column fails the build. With paw_rows_per_key='several',
    every row of a key takes the key's one value of those columns, and two values fail."""
    project = copy_dbt_project(tmp_path)
    upserted = (
        "{{ config(materialized='incremental', unique_key='rule_order', "
        "incremental_strategy='paw_upsert') }}\n"
        "select rule_order, regex{% if is_incremental() %} || ' again'{% endif %} as regex\n"
        "from {{ ref('path_cleaning') }}\n"
    )
    (project / "models" / "rules_upserted.sql").write_text(
        upserted + "{% if is_incremental() %}union all select 4, 'new'{% endif %}"
    )
    (project / "models" / "rules_with_a_duplicate.sql").write_text(
        upserted + "{% if is_incremental() %}union all select 1, 'twice'{% endif %}"
    )
    partly_updated = (
        "{{ config(materialized='incremental', unique_key='rule_order', "
        "incremental_strategy='paw_upsert', paw_updated_columns=[UPDATED]) }}\n"
        "select rule_order, regex{% if is_incremental() %} || ' again'{% endif %} as regex,\n"
        "'{{ 'rebuilt' if is_incremental() else 'first' }}' as own_value,\n"
        "{{ paw_built_at() }} as built_at\n"
        "from {{ ref('path_cleaning') }}\n"
        "{% if is_incremental() %}union all select 4, 'new', 'rebuilt', {{ paw_built_at() }}"
        "{% endif %}"
    )
    (project / "models" / "rules_partly_updated.sql").write_text(
        partly_updated.replace("UPDATED", "'regex'")
    )
    (project / "models" / "rules_misspelt.sql").write_text(
        partly_updated.replace("UPDATED", "'regexp'")
    )
    several = (
        "{{ config(materialized='incremental', unique_key='rule_parity', "
        "incremental_strategy='paw_upsert', paw_rows_per_key='several', "
        "paw_updated_columns=['state']) }}\n"
        "select rule_order % 2 as rule_parity, rule_order, "
        "{% if is_incremental() %}STATE{% else %}'first'{% endif %} as state, "
        "{{ paw_built_at() }} as built_at\n"
        "from {{ ref('path_cleaning') }}\n"
        "{% if is_incremental() %}union all select 7, 7, 'new', {{ paw_built_at() }}{% endif %}"
    )
    (project / "models" / "rules_by_parity.sql").write_text(several.replace("STATE", "'again'"))
    (project / "models" / "rules_by_parity_with_two_states.sql").write_text(
        several.replace("STATE", "'again ' || rule_order")
    )
    settings = Settings.from_env(local_env(tmp_path))
    models = [
        "rules_upserted",
        "rules_with_a_duplicate",
        "rules_partly_updated",
        "rules_misspelt",
        "rules_by_parity",
        "rules_by_parity_with_two_states",
    ]
    build = ["build", "--select", "path_cleaning", *models]
    first = run_dbt(build, settings, project=project)
    assert first.success, first.output[-3000:]
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        regexes = dict(con.execute("select rule_order, regex from rules_upserted").fetchall())
        first_built_at = con.execute("select max(built_at) from rules_partly_updated").fetchone()
    second = run_dbt(build, settings, project=project)
    assert second.failed == {
        "rules_with_a_duplicate",
        "rules_misspelt",
        "rules_by_parity_with_two_states",
    }, second.output[-3000:]
    output = " ".join(second.output.split())
    assert (
        "rules_by_parity_with_two_states uses the incremental strategy paw_upsert with several "
        "rows per rule_parity, which needs one value of state, built_at per rule_parity, but "
        "built 4 for 3 keys"
    ) in output
    assert (
        "rules_with_a_duplicate uses the incremental strategy paw_upsert, which needs one row "
        "per rule_order, but built 4 rows for 3 keys"
    ) in output
    assert "rules_misspelt: paw_updated_columns names no column regexp" in output
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute("select rule_order, regex from rules_upserted order by 1").fetchall()
        partly = con.execute(
            "select rule_order, regex, own_value, built_at > ? from rules_partly_updated "
            "order by 1",
            first_built_at,
        ).fetchall()
        by_parity = con.execute(
            "select rule_parity, rule_order, state, built_at > ? from rules_by_parity order by 2",
            first_built_at,
        ).fetchall()
    # both rows of parity 1 (rules 1 and 3) were updated, not one of them
    assert by_parity == [(order % 2, order, "again", True) for order in sorted(regexes)] + [
        (7, 7, "new", True)
    ]
    expected = [(order, f"{regex} again") for order, regex in sorted(regexes.items())]
    assert rows == expected + [(4, "new")]
    assert partly == [(*row, "first", True) for row in expected] + [(4, "new", "rebuilt", True)]


def test_path_cleaning_rules_are_applied_in_rule_order_as_written(tmp_path):
    """paw_clean_path (macros/paths.sql) writes the rules of seeds/path_cleaning.csv into the
    SQL as literals, in rule_order whatever the file's order: a quote or a backslash in a rule
    is part of its regex or replacement, and each rule sees what the rules before it made."""
    project = copy_dbt_project(tmp_path)
    (project / "seeds" / "path_cleaning.csv").write_text(
        "rule_order,regex,replacement\n"
        "3,:id/'s$,:id/'owner'\n"  # matches only once rules 1 and 2 have run
        "1,\\?.*$,\n"
        "2,/projects/[0-9]+,/projects/:id\n"
    )
    (project / "models" / "cleaned_examples.sql").write_text(
        "-- depends_on: {{ ref('path_cleaning') }}\n"
        "select path, {{ paw_clean_path('path') }} as cleaned_path\n"
        "from (values ('/projects/42/''s?tab=1'), ('/home'), (null)) as examples (path)\n"
    )
    settings = Settings.from_env(local_env(tmp_path))
    result = run_dbt(["build", "--select", "path_cleaning", "cleaned_examples"], settings, project)
    assert result.success, result.output[-3000:]
    with duckdb.connect(settings.warehouse_path, read_only=True) as con:
        cleaned = dict(con.execute("select path, cleaned_path from cleaned_examples").fetchall())
    assert cleaned == {
        "/projects/42/'s?tab=1": "/projects/:id/'owner'",
        "/home": "/home",
        None: None,
    }
