"""Where a rule must be copied (a dbt yml, a doc, a SQL macro), the copy equals its one home."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from ingestion.contract import ACTIVITY_EVENT_TYPES, EVENT_TYPES, Reason
from ingestion.ingest import BATCH_LINES, DUCKDB_MEMORY_LIMIT
from ingestion.lake import PART_FILE_PATTERN
from ingestion.partitions import FLUSH_BYTES
from ingestion.reader import BLOCK_BYTES
from orchestration.dbt.project import paw_dbt_project
from paw.settings import project_root

ROOT = project_root()
DBT = ROOT / "dbt_project"


def _column_tests(model_yml: Path, column: str) -> list:
    [model] = yaml.safe_load(model_yml.read_text())["models"]
    [col] = [c for c in model["columns"] if c["name"] == column]
    return col.get("data_tests", [])


def _accepted_values(model_yml: Path, column: str) -> list[str]:
    for test in _column_tests(model_yml, column):
        if isinstance(test, dict) and "accepted_values" in test:
            return test["accepted_values"]["arguments"]["values"]
    raise AssertionError(f"{model_yml}: {column} has no accepted_values test")


def test_reason_codes_in_the_quarantine_model_equal_the_enum():
    yml = DBT / "models/staging/stg_quarantined_events.yml"
    assert _accepted_values(yml, "reason") == [r.value for r in Reason]


def test_reason_codes_in_the_contract_doc_equal_the_enum():
    doc = (ROOT / "docs/event-contract.md").read_text()
    table = re.findall(r"^\| `([a-z_]+)` \|", doc.split("## Quarantine", 1)[1], re.M)
    assert table == [r.value for r in Reason]


def test_the_validation_sql_writes_no_reason_code_of_its_own():
    sql = (ROOT / "ingestion/sql/validate_lines.sql").read_text()
    for reason in Reason:
        assert f"'{reason.value}'" not in sql, reason


def test_event_types_in_staging_equal_the_contract():
    yml = DBT / "models/staging/stg_events.yml"
    assert tuple(_accepted_values(yml, "event_type")) == EVENT_TYPES
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text())
    assert tuple(project["vars"]["paw_activity_event_types"]) == ACTIVITY_EVENT_TYPES


def test_the_committed_runs_macro_uses_the_lakes_file_pattern():
    macro = (DBT / "macros/lake.sql").read_text()
    [pattern] = re.findall(r"regexp_extract\([^,]+, '([^']+)', 1\)", macro)
    assert pattern == PART_FILE_PATTERN


IMPORT_CTE = re.compile(
    r"^(\w+) as (not materialized )?\(\n\s+select \* from \{\{ (?:ref|source|this)\b", re.M
)


def test_every_import_cte_is_inlined():
    """docs/architecture.md, Writing SQL for DuckDB: an import CTE materialized by DuckDB is a
    copy of a whole table that hides its filters and its size from the optimizer."""
    imports = 0
    for path in sorted((DBT / "models").rglob("*.sql")):
        for match in IMPORT_CTE.finditer(path.read_text()):
            imports += 1
            assert match.group(2), f"{path.name}: import CTE {match.group(1)} is not inlined"
    assert imports > 50, f"the pattern found only {imports} import CTEs"


def test_the_lake_doc_states_the_real_buffer_sizes():

    memory = (ROOT / "docs/lake.md").read_text().split("**Bounded memory.**", 1)[1]
    memory = " ".join(memory.split())
    assert f"{BLOCK_BYTES // 2**20} MB blocks" in memory
    assert f"{FLUSH_BYTES // 2**20} MB" in memory
    assert f"{DUCKDB_MEMORY_LIMIT.removesuffix('MB')} MB" in memory
    assert f"{BATCH_LINES:,} lines" in memory


def _manifest() -> dict:

    return json.loads(paw_dbt_project().manifest_path.read_text())


def test_the_dbt_lineage_points_one_way():
    layers = ("staging", "intermediate", "marts")
    nodes = _manifest()["nodes"]
    models = {k: v for k, v in nodes.items() if v["resource_type"] == "model"}

    def layer(node: dict) -> int:
        return next(i for i, name in enumerate(layers) if name in node["fqn"])

    for node in models.values():
        for parent in node["depends_on"]["nodes"]:
            if parent in models:
                assert layer(models[parent]) <= layer(node), (parent, node["name"])


def test_shared_columns_are_described_once_by_a_doc_block():
    manifest = _manifest()
    docs = {d["name"]: d["block_contents"] for d in manifest["docs"].values()}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        for name, column in node["columns"].items():
            if name in ("person_id", "session_id", "event_id", "event_timestamp"):
                assert column["description"] == docs[name], (node["name"], name)


def test_the_code_location_dg_dev_serves_is_the_one_paw_run_labels_its_runs_with():
    import tomllib

    from orchestration.run import CODE_LOCATION

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["dg"]["project"]["code_location_name"] == CODE_LOCATION


def test_worked_examples_in_the_docs_are_unit_tests():
    """docs/semantics.md (and docs/orchestration.md for the incremental rules) names the unit
    test behind each worked example; each must exist."""
    semantics = (ROOT / "docs" / "semantics.md").read_text()
    orchestration = (ROOT / "docs" / "orchestration.md").read_text()
    named = set(re.findall(r"unit tests?\s+`([a-z0-9_]+)`", semantics + orchestration))
    named |= set(re.findall(r"and `([a-z0-9_]+)`:", semantics))
    unit_tests = {node["name"] for node in _manifest()["unit_tests"].values()}
    assert len(named) >= 7
    assert named <= unit_tests, named - unit_tests


GENERIC_TESTS = (
    "unique",
    "not_null",
    "accepted_values",
    "relationships",
    "paw_between",
    "paw_expression_is_true",
    "paw_unique_combination",
)


def test_every_dbt_data_test_has_a_name_and_a_description():
    """A generic test without `name:` gets a generated name (unique_fct_x_y, cut and hashed when
    long): the checks list in the UI reads as sentences only when each is named and described."""
    tests = [n for n in _manifest()["nodes"].values() if n["resource_type"] == "test"]
    assert len(tests) > 100
    generated = [
        n["name"] for n in tests if n["name"].startswith(tuple(f"{g}_" for g in GENERIC_TESTS))
    ]
    undescribed = [n["name"] for n in tests if not (n.get("description") or "").strip()]
    assert not generated, generated
    assert not undescribed, undescribed
    # a name or description written from an empty list of columns reads "one_row_per_", "()"
    cut_short = [n["name"] for n in tests if n["name"].endswith("_") or "()" in n["description"]]
    assert not cut_short, cut_short


def test_the_lake_sources_document_exactly_the_contracts_columns():
    from ingestion.contract import EVENT_SCHEMA, INGESTION_LOG_SCHEMA, QUARANTINE_SCHEMA

    partitions = {"events": ["event_date"], "quarantine": ["ingest_date"], "ingestion_log": []}
    schemas = {
        "events": EVENT_SCHEMA,
        "quarantine": QUARANTINE_SCHEMA,
        "ingestion_log": INGESTION_LOG_SCHEMA,
    }
    sources = {n["name"]: n for n in _manifest()["sources"].values()}
    for table, schema in schemas.items():
        documented = list(sources[table]["columns"])
        assert documented == schema.names + partitions[table], table
        assert all(c["description"] for c in sources[table]["columns"].values()), table
