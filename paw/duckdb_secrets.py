"""S3 credentials for DuckDB processes paw starts (dbt), as a DuckDB persistent secret in a
private folder that lives as long as the process needs it: never on a command line, never in
dbt's artifacts, never in the environment.

Settings without credentials (a local lake, or S3 through the machine's own role) make a secret
with nothing secret in it: that one lives in a folder named after its contents and is kept, so
that dbt, which reparses its whole project (15 s) whenever its vars change, sees the same folder
on every invocation."""

from __future__ import annotations

import contextlib
import hashlib
import os
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
    sql = s3_secret_sql(s3)
    if not (s3.access_key_id or s3.secret_access_key or s3.session_token):
        yield _kept_directory(sql)
        return
    folder = Path(tempfile.mkdtemp(prefix="paw-secrets-"))
    try:
        _write_secret(folder, sql)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _kept_directory(sql: str) -> Path:
    """The folder of a secret without credentials, named after its SQL: written once, whole (a
    folder renamed into place), and kept."""
    digest = hashlib.sha256(sql.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"paw-secrets-{os.getuid()}-{digest}"
    if folder.is_dir():
        return folder
    staging = Path(tempfile.mkdtemp(prefix="paw-secrets-new-"))
    _write_secret(staging, sql)
    try:
        staging.rename(folder)
    except OSError:  # another process put it in place first: the same contents
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _write_secret(folder: Path, sql: str) -> None:
    """DuckDB writes the persistent secret `sql` creates into `folder`."""
    con = duckdb.connect()
    try:
        con.execute("set secret_directory = ?", [str(folder)])
        con.execute(sql)
    finally:
        con.close()
