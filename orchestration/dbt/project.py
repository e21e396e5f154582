"""The dbt project as Dagster sees it: one cached DbtProject, a translator, argument builders."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from ingestion.storage import remove_all_but_newest
from orchestration.dbt.incremental import DEFINITIONS_VAR, project_definitions
from paw.duckdb_secrets import secret_directory
from paw.settings import Settings, memory_bytes, project_root

LAYERS = ("staging", "intermediate", "marts")
# Marts are rebuilt nightly: older than this, the UI flags them as stale.
MARTS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26))


def dbt_project_dir() -> Path:
    return project_root() / "dbt_project"


# dbt commands that only read the warehouse: they open it read-only.
READ_ONLY_COMMANDS = ("docs", "show", "compile", "ls", "list", "parse", "debug", "source")


# The nightly's dbt command (`paw run`, the schedule, `make bench`): unit tests check the SQL, not
# the data, so CI runs them (tests/test_dbt.py) and the nightly does not.
NIGHTLY_BUILD = ("build", "--exclude-resource-type", "unit_test")


def dbt_vars(settings: Settings, secrets: Path | str, read_only: bool = False) -> dict[str, str]:
    """What dbt reads of paw's settings (profiles.yml and the lake's sources use these vars):
    the one place where dbt's inputs are built. Credentials never travel as vars (dbt writes
    its vars into its artifacts): they are a DuckDB secret in the folder `secrets`."""
    return {
        "paw_warehouse_path": settings.warehouse_path,
        "paw_warehouse_access": "read_only" if read_only else "automatic",
        "paw_lake_url": settings.lake_url,
        "paw_secret_directory": str(secrets),
        "paw_duckdb_memory_limit": settings.build_memory_limit,
        # the chunks of the chunked models are sized from it (macros/chunked_tables.sql)
        "paw_duckdb_memory_bytes": memory_bytes(settings.build_memory_limit),
    }


def dbt_args(
    command: Sequence[str],
    settings: Settings,
    secrets: Path | str,
    analytic_vars: Mapping[str, Any] | None = None,
    project_dir: Path | None = None,
    definitions: Mapping[str, str] | None = None,
) -> list[str]:
    """A dbt command with paw's vars (and any analytic `paw_*` vars for this invocation), and
    the definitions the warehouse records (orchestration/dbt/incremental.py: an incremental
    build needs a warehouse built from the project's): the project's, unless given."""
    read_only = bool(command) and command[0] in READ_ONLY_COMMANDS
    if definitions is None:
        definitions = project_definitions(project_dir or dbt_project_dir(), analytic_vars)
    all_vars = {
        **(analytic_vars or {}),
        **dbt_vars(settings, secrets, read_only),
        DEFINITIONS_VAR: definitions,
    }
    return [*command, "--vars", json.dumps(all_vars, sort_keys=True)]


def run_dbt_command(
    command: Sequence[str],
    settings: Settings,
    *,
    project_dir: Path | None = None,
    capture_output: bool = False,
    env: Mapping[str, str] | None = None,
    analytic_vars: Mapping[str, Any] | None = None,
) -> subprocess.CompletedProcess:
    """dbt as a subprocess with paw's settings (and any analytic `paw_*` vars): `paw dbt`,
    `make setup`'s parse, the bench's builds (the tests run dbt in their own process with the
    same arguments: tests/dbt_helpers.py)."""
    project_dir = project_dir or dbt_project_dir()
    Path(settings.warehouse_path).parent.mkdir(parents=True, exist_ok=True)
    with secret_directory(settings.s3) as secrets:
        return subprocess.run(
            [
                dbt_executable(),
                *dbt_args(command, settings, secrets, analytic_vars, project_dir=project_dir),
                *project_flags(project_dir),
            ],
            cwd=project_dir,
            env=dict(env) if env is not None else None,
            capture_output=capture_output,
            text=True,
        )


def project_flags(project_dir: Path) -> list[str]:
    """Where dbt finds the project, and its profile (which lives beside it)."""
    return ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]


# dbt's parse, in a target folder
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def build_target(targets: Path, run_id: str, build: Path) -> Path:
    """A new target folder for the dbt invocation of a build into `build`, holding the parse
    that the previous build into it kept (keep_parse): dbt then parses only what changed since
    (1.0 s at 10M events, against 3.6 s for the whole project), as its vars are the same: the
    build's file, row-count folder and secret folder are the same for every build of one
    warehouse (S3 credentials excepted: their folder is new for every invocation)."""
    target = targets / f"dbt_warehouse-{run_id[:8]}-{uuid.uuid4().hex[:8]}"
    target.mkdir(parents=True)
    kept = _kept_parse(targets, build)
    if kept.exists():
        shutil.copyfile(kept, target / PARTIAL_PARSE_FILE)
    return target


def keep_parse(target: Path, targets: Path, build: Path) -> None:
    """Keep a build's parse for the next build into the same file, apart from the parse of
    `make setup` and `paw dbt` (target/partial_parse.msgpack) and of other warehouses (the
    tests' warehouses share the project), whose vars differ. Replaced whole, by a rename."""
    parse = target / PARTIAL_PARSE_FILE
    if parse.exists():
        kept = _kept_parse(targets, build)
        staging = kept.with_name(f".{kept.name}.{target.name}")
        shutil.copyfile(parse, staging)
        os.replace(staging, kept)
        remove_all_but_newest(list(targets.glob("build_partial_parse-*.msgpack")))


def _kept_parse(targets: Path, build: Path) -> Path:
    digest = hashlib.sha256(str(build.resolve()).encode()).hexdigest()[:16]
    return targets / f"build_partial_parse-{digest}.msgpack"


def parse_project(project_dir: Path) -> None:
    """`dbt parse` as `make setup` runs it: with paw's vars, which the profile needs, and the dbt
    of this environment (dagster-dbt's own preparer looks for dbt on PATH)."""
    result = run_dbt_command(["parse", "--quiet"], Settings.from_env(), project_dir=project_dir)
    if result.returncode != 0:
        raise RuntimeError(f"`dbt parse` failed in {project_dir}: see its output above")


@functools.cache
def paw_dbt_project() -> DbtProject:
    """The project. `make setup` writes its manifest (`paw dbt parse`) so that loading never
    parses SQL; when the manifest is missing or older than a file of the project (an edit under
    `dg dev`), it is parsed here (what DbtProject.prepare_if_dev does, with paw's parse)."""
    project = DbtProject(project_dir=dbt_project_dir(), profiles_dir=dbt_project_dir())
    if not manifest_is_current(Path(project.project_dir), project.manifest_path):
        parse_project(Path(project.project_dir))
    return project


# What dbt's manifest is made from: an edit to any of these makes the manifest stale.
PROJECT_SOURCES = ("models", "macros", "seeds", "tests", "dbt_project.yml", "profiles.yml")


def manifest_is_current(project_dir: Path, manifest: Path) -> bool:
    """The manifest exists and is newer than every file of the project: parsing again (10 s)
    would give the same manifest, so `dg dev` starts without it and still picks up edits."""
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    for name in PROJECT_SOURCES:
        source = project_dir / name
        files = source.rglob("*") if source.is_dir() else [source]
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return False
    return True


def dbt_executable() -> str:
    """dbt from the same environment as this Python, whether or not it is on PATH, behind
    `paw-dbt` (paw/dbt_guard.py), which ends it when the process that started it dies."""
    for name in ("paw-dbt", "dbt"):
        candidate = Path(sys.executable).parent / name
        if candidate.exists():
            return str(candidate)
    return "dbt"


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

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """The dbt description alone: the SQL is one click away in the UI's code view, not
        appended to every description."""
        props = dbt_resource_props
        return props.get("description") or f"dbt {props['resource_type']} {props['name']}"

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.group_name == "marts":
            spec = spec.replace_attributes(freshness_policy=MARTS_FRESHNESS)
        return spec

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """dbt tests as checks, described by the test's own description (dagster-dbt reads only
        meta.description)."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        description = manifest["nodes"][unique_id].get("description")
        return spec._replace(description=description) if description else spec


def _layer(props: Mapping[str, Any]) -> str:
    if props["resource_type"] == "seed":
        return "staging"
    fqn = props.get("fqn", [])
    for layer in LAYERS:
        if layer in fqn:
            return layer
    return props.get("schema") or "dbt"
