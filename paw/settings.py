"""One settings object, built from the environment when a command or resource starts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LANDING = "data/landing"
DEFAULT_LAKE = "data/lake"
DEFAULT_WAREHOUSE = "data/warehouse/paw.duckdb"


def project_root() -> Path:
    """The repository root: relative defaults resolve against it, not the caller's cwd."""
    return Path(__file__).resolve().parent.parent


def _resolve_url(value: str) -> str:
    if value.startswith("s3://"):
        return value.rstrip("/")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = project_root() / path
    return str(path)


@dataclass(frozen=True)
class S3Settings:
    """Standard AWS variables; the secret is kept out of repr so it never reaches a log."""

    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> S3Settings:
        return cls(
            access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            session_token=env.get("AWS_SESSION_TOKEN") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            endpoint_url=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
        )


@dataclass(frozen=True)
class Settings:
    landing_url: str
    lake_url: str
    warehouse_path: str
    s3: S3Settings

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, load_dotenv: bool = True) -> Settings:
        if env is None:
            if load_dotenv:
                _load_dotenv()
            env = dict(os.environ)
        return cls(
            landing_url=_resolve_url(env.get("PAW_LANDING_URL") or DEFAULT_LANDING),
            lake_url=_resolve_url(env.get("PAW_LAKE_URL") or DEFAULT_LAKE),
            warehouse_path=_resolve_url(env.get("PAW_WAREHOUSE") or DEFAULT_WAREHOUSE),
            s3=S3Settings.from_env(env),
        )

    def dbt_env(self) -> dict[str, str]:
        """The variables dbt's profiles.yml reads, as absolute paths."""
        return {
            "PAW_LANDING_URL": self.landing_url,
            "PAW_LAKE_URL": self.lake_url,
            "PAW_WAREHOUSE": self.warehouse_path,
        }


def _load_dotenv() -> None:
    env_file = Path.cwd() / ".env"
    if not env_file.exists():
        env_file = project_root() / ".env"
    if env_file.exists():
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)
