"""What the Dagster UI shows, read through Dagster's own APIs: descriptions without SQL dumps,
no unserializable metadata, owners, tags and freshness from dbt, dbt tests as described checks."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest
import yaml
from dagster._core.remote_representation.external_data import RepositorySnap

from orchestration.definitions import build_definitions
from paw.settings import project_root

# Metadata keys the UI does not display (dagster-webserver's own list, for dagster-dbt's manifest
# and translator objects, which dagster-dbt needs at run time).
HIDDEN_BY_THE_UI = {"dagster_dbt/manifest", "dagster_dbt/dagster_dbt_translator"}


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return build_definitions()


@pytest.fixture(scope="module")
def snapshot(definitions) -> RepositorySnap:
    return RepositorySnap.from_def(definitions.get_repository_def())


def test_no_metadata_row_is_unserializable(snapshot):
    shown = {
        (tuple(node.asset_key.path), key)
        for node in snapshot.asset_nodes
        for key, value in node.metadata.items()
        if "unserializable" in str(value) and key not in HIDDEN_BY_THE_UI
    }
    assert not shown


def test_dbt_assets_are_described_owned_tagged_and_marts_have_a_freshness_policy(definitions):
    graph = definitions.resolve_asset_graph()
    dbt_nodes = [
        node
        for node in graph.asset_nodes
        if node.key.path[0] in ("staging", "intermediate", "marts")
    ]
    assert len(dbt_nodes) > 40
    for node in dbt_nodes:
        assert node.description and "Raw SQL" not in node.description, node.key
        assert "```" not in node.description, node.key
        assert node.owners, node.key
        layer = node.key.path[0]
        assert layer in node.tags or "seeds" in node.tags, (node.key, node.tags)
        policy = node.freshness_policy
        if layer == "marts":
            assert policy is not None and policy.fail_window.to_timedelta() == timedelta(hours=26)
        else:
            assert policy is None, node.key


def test_every_dbt_test_is_a_check_with_its_name_and_description(definitions):
    graph = definitions.resolve_asset_graph()
    specs = {spec.name: spec for assets in graph.assets_defs for spec in assets.check_specs}
    # as written in stg_events.yml
    unique_ids = specs["stg_events_event_id_is_unique"]
    assert unique_ids.asset_key == dg.AssetKey(["staging", "stg_events"])
    assert unique_ids.description == "No two rows of stg_events have the same event_id."
    yml = yaml.safe_load(
        (
            project_root() / "dbt_project" / "models" / "marts" / "usage" / "fct_usage_rejected.yml"
        ).read_text()
    )
    [model] = yml["models"]
    [test] = model["data_tests"]
    named = test["paw_unique_combination"]
    assert specs[named["name"]].description == named["description"]
    undescribed = [name for name, spec in specs.items() if not spec.description]
    assert not undescribed
