"""The dbt project as Dagster sees it: one cached DbtProject, a translator, argument builders."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from paw.settings import project_root

LAYERS = ("staging", "intermediate", "marts")


def dbt_project_dir() -> Path:
    return project_root() / "dbt_project"


@functools.cache
def paw_dbt_project() -> DbtProject:
    """The project; `make setup` writes its manifest (dbt parse), so loading never parses SQL."""
    project = DbtProject(project_dir=dbt_project_dir(), profiles_dir=dbt_project_dir())
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"{project.manifest_path} is missing: run `make setup` (it runs `dbt parse`)"
        )
    return project


def dbt_executable() -> str:
    """dbt from the same environment as this Python, whether or not it is on PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


class PawDbtTranslator(DagsterDbtTranslator):
    """Asset keys are [layer, model]; groups are the layers (seeds sit in staging)."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)  # meta.dagster.asset_key: lake/*
        return dg.AssetKey([_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "lake"
        return _layer(dbt_resource_props)


def _layer(props: Mapping[str, Any]) -> str:
    if props["resource_type"] == "seed":
        return "staging"
    fqn = props.get("fqn", [])
    for layer in LAYERS:
        if layer in fqn:
            return layer
    return props.get("schema") or "dbt"


def dbt_build_args(vars_: Mapping[str, Any] | None = None) -> list[str]:
    """The dbt invocation: `build` runs seeds, models and every test, singular tests (such as
    the reconciliation) included; dagster-dbt adds --select for a partial selection."""
    args = ["build"]
    if vars_:
        args += ["--vars", json.dumps(dict(vars_), sort_keys=True)]
    return args
