"""The dbt resource: dagster-dbt's, without the two things it does before every build that paw
does not need (about 4 s of every run, whatever the data's size)."""

from __future__ import annotations

from functools import cached_property
from importlib.metadata import version as installed_version

from dagster_dbt import DbtCliResource
from packaging import version


class PawDbtCliResource(DbtCliResource):
    """dagster-dbt 0.29 starts each invocation by running `dbt --version` in a subprocess (dbt's
    start-up, 2-3 s here, and a request to PyPI for the latest version: a nightly must not
    wait for the network) and by loading a dbt adapter into Dagster's own process (1-2 s),
    which it only uses to fetch row counts and column metadata. paw's dbt is the dbt-core of
    this environment (`dbt_executable`), and paw's row counts come from the build itself
    (macros/row_counts.sql)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 (dagster-dbt's signature)
        return None
