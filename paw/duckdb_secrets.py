"""S3 credentials for DuckDB processes paw starts (dbt), as a DuckDB persistent secret in a
private folder: never on a command line, never in dbt's artifacts, never in the environment.

The folder is named after the secret, so that dbt, which reparses its whole project whenever
its vars change, sees the same folder on every invocation with the same settings. The folder
lives while an invocation uses it: each holds a shared lock on it, and the last one out removes
it, secret and all. The folders of other credentials that no invocation holds (their last user
was killed, and rotated credentials never come back to them) are removed by the next
invocation."""

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
FOLDER_PREFIX = "paw-secrets-"  # then the user's id and the secret's digest
LOCK_NAME = ".lock"
LOCK_ATTEMPTS = 10


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
    temp = Path(tempfile.gettempdir())
    folder = temp / f"{FOLDER_PREFIX}{os.getuid()}-{digest}"
    lock = _lock_shared(folder)
    try:
        if not any(folder.glob(f"*{SECRET_SUFFIX}")):
            _write_secret(folder, sql)
        _remove_unused_folders(temp, keep=folder)
        yield folder
    finally:
        _remove_if_unused(folder, lock)  # the last user out removes it


def _lock_shared(folder: Path) -> int:
    """A shared lock on the folder (its lock file), the folder made if need be. While any
    process holds one, no other removes the folder; a lock taken on a lock file that its folder
    no longer holds (the last user removed both meanwhile) is let go and taken again."""
    for _ in range(LOCK_ATTEMPTS):
        _make_private_folder(folder)
        try:
            lock = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:  # removed between the two
            continue
        fcntl.flock(lock, fcntl.LOCK_SH)
        if _holds_current_lock(folder, lock):
            return lock
        os.close(lock)
    raise RuntimeError(
        f"{folder} was removed under this process {LOCK_ATTEMPTS} times while it locked it"
    )


def _holds_current_lock(folder: Path, lock: int) -> bool:
    try:
        current = os.stat(folder / LOCK_NAME)
    except FileNotFoundError:
        return False
    held = os.fstat(lock)
    return (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino)


def _remove_if_unused(folder: Path, lock: int) -> None:
    """Removes the folder if no process but this one holds its lock (`lock`, an open
    descriptor of its lock file, which this closes)."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _holds_current_lock(folder, lock):
            _remove_folder(folder)
    except BlockingIOError:
        pass
    finally:
        os.close(lock)


def _remove_folder(folder: Path) -> None:
    """Removes a folder whose lock this process holds exclusively: the secret first, so that a
    removal cut short leaves a lock file for the next one."""
    for secret in folder.glob(f"*{SECRET_SUFFIX}"):
        secret.unlink(missing_ok=True)
    (folder / LOCK_NAME).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # anything else in it is not paw's to remove
        folder.rmdir()


def _remove_unused_folders(temp: Path, keep: Path) -> None:
    """Removes this user's secret folders that no invocation holds, but `keep`. A folder
    without a lock file is being made, and is left alone."""
    for folder in temp.glob(f"{FOLDER_PREFIX}{os.getuid()}-*"):
        if folder == keep:
            continue
        try:
            info = os.lstat(folder)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue
            lock = os.open(folder / LOCK_NAME, os.O_RDWR)
        except OSError:
            continue
        _remove_if_unused(folder, lock)


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
