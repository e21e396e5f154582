"""One settings object, built from the environment when a command or resource starts.

A leaf: it imports nothing else of the project. Every default path and every resolution of an
environment variable (which AWS variable wins, what a relative path means) is written here
once; dbt, DuckDB connections and the Dagster resource receive the resolved values.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LANDING = "data/landing"
DEFAULT_LAKE = "data/lake"
DEFAULT_WAREHOUSE = "data/warehouse/paw.duckdb"
DEFAULT_SETTLE_SECONDS = 60.0
# DuckDB's memory limit for the warehouse build (it spills to disk beyond): the full build of 10M
# events peaks at 2.7 GB resident under it (docs/benchmarks.md); every model's operators can spill.
DEFAULT_BUILD_MEMORY = "2GB"
DEFAULT_REGION = "us-east-1"

# DuckDB's units of memory: K, M, G and T are powers of 1000, KiB to TiB of 1024.
MEMORY_UNITS = {
    "": 1,
    "b": 1,
    **{f"{p}{suffix}": 1000**n for n, p in enumerate("kmgt", 1) for suffix in ("", "b")},
    **{f"{p}ib": 1024**n for n, p in enumerate("kmgt", 1)},
}

SETTLE_VARIABLE = "PAW_LANDING_SETTLE_SECONDS"
BUILD_MEMORY_VARIABLE = "PAW_BUILD_MEMORY_LIMIT"
AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
)
VARIABLES = (
    "PAW_LANDING_URL",
    "PAW_LAKE_URL",
    "PAW_WAREHOUSE",
    SETTLE_VARIABLE,
    BUILD_MEMORY_VARIABLE,
    *AWS_VARIABLES,
)


def project_root() -> Path:
    """The repository root: relative defaults resolve against it, not the caller's cwd."""
    return Path(__file__).resolve().parent.parent


def memory_bytes(size: str) -> int:
    """A memory size as DuckDB reads it ('2GB', '250 MB', '1.5GiB'), in bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", size)
    unit = MEMORY_UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ValueError(
            f"{BUILD_MEMORY_VARIABLE}={size!r} is not a memory size such as 2GB, 500MB or 1.5GiB"
        )
    return int(float(match.group(1)) * unit)


def _resolve_url(value: str) -> str:
    if value.startswith("s3://"):
        return value.rstrip("/")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = project_root() / path
    return str(path)


@dataclass(frozen=True)
class S3Settings:
    """Standard AWS variables, resolved once; secrets are kept out of repr (and so of logs)."""

    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Settings:
        return cls(
            access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            # boto3's own precedence: the service-specific endpoint first
            endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
        )

    @property
    def endpoint_host(self) -> str | None:
        """host:port of a custom endpoint, as DuckDB's S3 secret wants it."""
        if not self.endpoint_url:
            return None
        return self.endpoint_url.split("://", 1)[-1].rstrip("/")

    @property
    def use_ssl(self) -> bool:
        return not (self.endpoint_url or "").startswith("http://")


@dataclass(frozen=True)
class Settings:
    landing_url: str
    lake_url: str
    warehouse_path: str
    s3: S3Settings = field(default_factory=S3Settings)
    landing_settle_seconds: float = DEFAULT_SETTLE_SECONDS
    build_memory_limit: str = DEFAULT_BUILD_MEMORY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """From `env`, or from the process environment with a `.env` file underneath it."""
        if env is None:
            env = {**_dotenv_values(), **os.environ}
        settle = env.get(SETTLE_VARIABLE)
        build_memory = env.get(BUILD_MEMORY_VARIABLE) or DEFAULT_BUILD_MEMORY
        memory_bytes(build_memory)  # a size DuckDB reads, or an error naming the variable now
        return cls(
            landing_url=_resolve_url(env.get("PAW_LANDING_URL") or DEFAULT_LANDING),
            lake_url=_resolve_url(env.get("PAW_LAKE_URL") or DEFAULT_LAKE),
            warehouse_path=_resolve_url(env.get("PAW_WAREHOUSE") or DEFAULT_WAREHOUSE),
            s3=S3Settings.from_env(env),
            landing_settle_seconds=float(settle) if settle else DEFAULT_SETTLE_SECONDS,
            build_memory_limit=build_memory,
        )

    def as_environment(self) -> dict[str, str]:
        """The variables that build these settings again (resolved: absolute paths, the one
        region and endpoint in force); from_env(as_environment()) equals self."""
        values = {
            "PAW_LANDING_URL": self.landing_url,
            "PAW_LAKE_URL": self.lake_url,
            "PAW_WAREHOUSE": self.warehouse_path,
            SETTLE_VARIABLE: repr(self.landing_settle_seconds),
            BUILD_MEMORY_VARIABLE: self.build_memory_limit,
            "AWS_ACCESS_KEY_ID": self.s3.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.s3.secret_access_key,
            "AWS_SESSION_TOKEN": self.s3.session_token,
            "AWS_REGION": self.s3.region,
            "AWS_ENDPOINT_URL_S3": self.s3.endpoint_url,
        }
        return {name: value for name, value in values.items() if value}

    def with_warehouse(self, path: str) -> Settings:
        return dataclasses.replace(self, warehouse_path=path)


def _dotenv_values() -> dict[str, str]:
    """A development `.env` file's values, without writing them into the environment."""
    env_file = Path.cwd() / ".env"
    if not env_file.exists():
        env_file = project_root() / ".env"
    if not env_file.exists():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(env_file).items() if v is not None}
