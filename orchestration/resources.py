"""Resources: paw's settings as a Dagster resource whose fields are its variables."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from paw.settings import VARIABLES, Settings


class PawSettings(dg.ConfigurableResource):
    """paw's variables (docs: README, "Where the data goes"), one field each, named after the
    variable in lower case. Unset fields take the defaults of paw.settings."""

    paw_landing_url: str | None = None
    paw_lake_url: str | None = None
    paw_warehouse: str | None = None
    paw_landing_settle_seconds: str | None = None
    paw_build_memory_limit: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    aws_region: str | None = None
    aws_default_region: str | None = None
    aws_endpoint_url_s3: str | None = None
    aws_endpoint_url: str | None = None

    def get(self) -> Settings:
        return Settings.from_env(
            {name: value for name in VARIABLES if (value := getattr(self, name.lower()))}
        )

    @classmethod
    def bound_to_environment(cls) -> PawSettings:
        """Each field bound to its variable (dg.EnvVar) when the variable is set: read when a
        run starts, shown by name (never by value) in the UI."""
        return cls(**{name.lower(): dg.EnvVar(name) for name in VARIABLES if os.environ.get(name)})

    @classmethod
    def from_settings(cls, settings: Settings) -> PawSettings:
        """The resource for settings built by a command (`paw run`)."""
        values: Mapping[str, str] = settings.as_environment()
        return cls(**{name.lower(): value for name, value in values.items()})
