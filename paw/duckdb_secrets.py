"""S3 credentials for DuckDB processes paw starts (dbt), as a DuckDB persistent secret in a
private folder that lives as long as the process needs it: never on a command line, never in
dbt's artifacts, never in the environment."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from paw.settings import S3Settings
from paw.sql import sql_literal


def s3_secret_sql(s3: S3Settings) -> str:
    """CREATE PERSISTENT SECRET for these settings (values quoted by one function)."""
    fields = {
        "key_id": s3.access_key_id,
        "secret": s3.secret_access_key,
        "session_token": s3.session_token,
        "region": s3.region,
        "endpoint": s3.endpoint_host,
    }
    parts = ["type s3"] + [f"{k} {sql_literal(v)}" for k, v in fields.items() if v]
    if s3.endpoint_url:
        parts += ["url_style 'path'", f"use_ssl {str(s3.use_ssl).lower()}"]
    return f"create persistent secret paw_s3 ({', '.join(parts)})"


@contextlib.contextmanager
def secret_directory(s3: S3Settings) -> Iterator[Path]:
    """A private folder (mode 0700) holding the S3 secret, removed afterwards. DuckDB loads
    the secrets of the folder its `secret_directory` setting names."""
    folder = Path(tempfile.mkdtemp(prefix="paw-secrets-"))
    try:
        con = duckdb.connect()
        try:
            con.execute("set secret_directory = ?", [str(folder)])
            con.execute(s3_secret_sql(s3))
        finally:
            con.close()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
