"""S3 credentials for DuckDB processes paw starts (dbt), as a DuckDB persistent secret in a
private folder: never on a command line, never in dbt's artifacts, never in the environment.

The folder is named after the secret, so that dbt, which reparses its whole project whenever
its vars change, sees the same folder on every invocation with the same settings. The secret
file in it lives while an invocation uses it: each holds a shared lock on the folder, and the
last one out removes the file."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from paw.settings import S3Settings
from paw.sql import sql_literal

SECRET_SUFFIX = ".duckdb_secret"  # the file DuckDB writes a persistent secret into


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
    """The private folder (mode 0700) holding the S3 secret of these settings, the secret written
    into it if it is not there, for as long as the context lasts. DuckDB loads the secrets of
    the folder its `secret_directory` setting names."""
    sql = s3_secret_sql(s3)
    digest = hashlib.sha256(sql.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"paw-secrets-{os.getuid()}-{digest}"
    _make_private_folder(folder)
    lock = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # shared while in use; a process removing the secret holds it exclusively, so the
        # secret is looked for only once no one can be removing it
        fcntl.flock(lock, fcntl.LOCK_SH)
        if not any(folder.glob(f"*{SECRET_SUFFIX}")):
            _write_secret(folder, sql)
        yield folder
    finally:
        try:  # the last user out: no other holds the lock
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            for secret in folder.glob(f"*{SECRET_SUFFIX}"):
                secret.unlink(missing_ok=True)
        except BlockingIOError:
            pass
        finally:
            os.close(lock)


def _make_private_folder(folder: Path) -> None:
    """The folder, made by this user and private to them; a name another user took (the
    system temp folder is shared) is refused rather than trusted with the secret."""
    folder.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(
            f"{folder} is not a folder private to this user (uid {os.getuid()}): paw will not "
            "write the S3 secret there; remove it"
        )


def _write_secret(folder: Path, sql: str) -> None:
    """DuckDB writes the persistent secret `sql` creates into a staging folder, whose file is
    then renamed into `folder`: never half a secret there."""
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    try:
        con = duckdb.connect()
        try:
            con.execute("set secret_directory = ?", [str(staging)])
            con.execute(sql)
        finally:
            con.close()
        for written in staging.iterdir():
            os.replace(written, folder / written.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
