"""One small interface over "a folder or an S3 prefix": list, read, write atomically, delete.

Everything above this module speaks in keys relative to a root URL; nothing above it knows
whether the root is a local folder or `s3://bucket/prefix`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from paw.settings import S3Settings


class StorageError(RuntimeError):
    """A storage operation failed; the message names the URL, never a credential."""


class LockHeldError(StorageError):
    """Another writer holds the lake's lock."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # relative to the storage root, '/'-separated
    size: int
    # A cheap change marker: a local file's modification time in ns, an S3 object's ETag.
    version: str = ""
    modified_at: float = 0.0  # seconds since the epoch
    # Why the object cannot be read (a symlink leading nowhere, a file that cannot be stat'd).
    problem: str | None = None
    # A symlink that leads outside the root: never followed.
    leads_outside: bool = False

    @property
    def is_hidden(self) -> bool:
        return any(part.startswith(".") for part in self.key.split("/"))


class Storage(Protocol):
    url: str

    def list(self, prefix: str = "", *, include_hidden: bool = False) -> list[ObjectInfo]: ...
    def stat(self, key: str) -> ObjectInfo: ...
    def open_read(self, key: str) -> BinaryIO: ...
    def read_bytes(self, key: str) -> bytes: ...
    def write_atomic(self, key: str, local_path: Path) -> None: ...
    def write_bytes_atomic(self, key: str, data: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def url_of(self, key: str) -> str: ...
    def lock(self, name: str, holder: str) -> contextlib.AbstractContextManager[None]: ...


def open_storage(url: str, s3: S3Settings | None = None) -> Storage:
    if url.startswith("s3://"):
        return S3Storage(url, s3 or S3Settings())
    return LocalStorage(Path(url))


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def url_of(self, key: str) -> str:
        return str(self._path(key))

    def list(self, prefix: str = "", *, include_hidden: bool = False) -> list[ObjectInfo]:
        """Files below `prefix`; names starting with `.` (temp files of an atomic write in
        progress) only with include_hidden. Folder symlinks are not followed; a file symlink
        leading outside the root, or nowhere, is listed with its problem."""
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return []
        out: list[ObjectInfo] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if include_hidden or not d.startswith("."))
            for name in filenames:
                full = Path(dirpath) / name
                info = self._info(full.relative_to(self.root).as_posix())
                if include_hidden or not info.is_hidden:
                    out.append(info)
        return sorted(out, key=lambda o: o.key)

    def _info(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if path.is_symlink():
            target = path.resolve()
            if not target.exists():
                return ObjectInfo(key, 0, problem=f"a symlink to {target}, which does not exist")
            if not target.is_relative_to(self.root.resolve()):
                return ObjectInfo(key, 0, leads_outside=True)
        try:
            st = path.stat()
        except OSError as exc:
            return ObjectInfo(key, 0, problem=f"cannot stat: {exc.strerror}")
        return ObjectInfo(key, st.st_size, str(st.st_mtime_ns), st.st_mtime)

    def stat(self, key: str) -> ObjectInfo:
        return self._info(key)

    def open_read(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except OSError as exc:
            raise StorageError(f"cannot read {self.url_of(key)}: {exc.strerror}") from exc

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as fh:
            return fh.read()

    def write_atomic(self, key: str, local_path: Path) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.tmp"
        try:
            try:
                os.replace(local_path, tmp)  # same filesystem: no copy
            except OSError:
                shutil.copyfile(local_path, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def write_bytes_atomic(self, key: str, data: bytes) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        self.write_atomic(key, Path(tmp))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, name: str, holder: str) -> Iterator[None]:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                fh.seek(0)
                raise LockHeldError(
                    f"{self.url_of(name)} is held by another writer ({fh.read().strip() or '?'})"
                ) from exc
            fh.seek(0)
            fh.truncate()
            fh.write(holder)
            fh.flush()
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class S3Storage:
    # A lock object older than this is taken to be left by a crashed writer.
    STALE_LOCK_SECONDS = 6 * 3600
    MAX_ATTEMPTS = 8  # per call, with backoff, for throttling, 5xx and dropped connections

    def __init__(self, url: str, s3: S3Settings) -> None:
        import boto3
        from botocore.config import Config

        rest = url.removeprefix("s3://")
        self.bucket, _, prefix = rest.partition("/")
        if not self.bucket:
            raise StorageError(f"{url!r} names no bucket; expected s3://bucket/prefix")
        self.prefix = prefix.strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.client = boto3.client(
            "s3",
            aws_access_key_id=s3.access_key_id,
            aws_secret_access_key=s3.secret_access_key,
            aws_session_token=s3.session_token,
            region_name=s3.region or "us-east-1",
            endpoint_url=s3.endpoint_url,
            # Transient errors (throttling, 5xx, dropped connections) retry with backoff.
            config=Config(retries={"max_attempts": self.MAX_ATTEMPTS, "mode": "standard"}),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def url_of(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _wrap(self, action: str, key: str, exc: Exception) -> StorageError:
        return StorageError(f"cannot {action} {self.url_of(key)}: {exc}")

    def list(self, prefix: str = "", *, include_hidden: bool = False) -> list[ObjectInfo]:
        root = f"{self.prefix}/" if self.prefix else ""
        out: list[ObjectInfo] = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=root + prefix):
                for obj in page.get("Contents", []):
                    info = ObjectInfo(
                        obj["Key"][len(root) :],
                        int(obj["Size"]),
                        obj.get("ETag", "").strip('"'),
                        obj["LastModified"].timestamp(),
                    )
                    if include_hidden or not info.is_hidden:
                        out.append(info)
        except Exception as exc:
            raise self._wrap("list", prefix, exc) from exc
        return sorted(out, key=lambda o: o.key)

    def stat(self, key: str) -> ObjectInfo:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise self._wrap("stat", key, exc) from exc
        return ObjectInfo(
            key,
            int(head["ContentLength"]),
            head.get("ETag", "").strip('"'),
            head["LastModified"].timestamp(),
        )

    def open_read(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except Exception as exc:
            raise self._wrap("read", key, exc) from exc

    def read_bytes(self, key: str) -> bytes:
        body = self.open_read(key)
        try:
            return body.read()
        finally:
            body.close()

    def write_atomic(self, key: str, local_path: Path) -> None:
        # An S3 object becomes visible only when its (multipart) upload completes; the size
        # check catches a truncated upload before the caller records the object as written.
        expected = Path(local_path).stat().st_size
        try:
            self.client.upload_file(str(local_path), self.bucket, self._key(key))
            actual = self.client.head_object(Bucket=self.bucket, Key=self._key(key))[
                "ContentLength"
            ]
        except Exception as exc:
            raise self._wrap("write", key, exc) from exc
        if actual != expected:
            raise StorageError(
                f"upload of {self.url_of(key)} is {actual} bytes, expected {expected}"
            )

    def write_bytes_atomic(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except Exception as exc:
            raise self._wrap("write", key, exc) from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise self._wrap("delete", key, exc) from exc

    @contextlib.contextmanager
    def lock(self, name: str, holder: str) -> Iterator[None]:
        from botocore.exceptions import ClientError

        key = self._key(name)
        body = json.dumps({"holder": holder, "host": socket.gethostname(), "at": time.time()})
        for attempt in range(2):
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
                break
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in ("PreconditionFailed", "ConditionalRequestConflict"):
                    raise self._wrap("take the lock", name, exc) from exc
                current = self._read_lock(key)
                if attempt == 0 and time.time() - current.get("at", 0) > self.STALE_LOCK_SECONDS:
                    self.client.delete_object(Bucket=self.bucket, Key=key)
                    continue
                raise LockHeldError(
                    f"{self.url_of(name)} is held by another writer ({current.get('holder', '?')})"
                ) from exc
            except Exception as exc:  # the endpoint down, a dropped connection
                raise self._wrap("take the lock", name, exc) from exc
        try:
            yield
        except BaseException:
            # The error that stopped the work is the one to report, not a failed release.
            with contextlib.suppress(Exception):
                self.client.delete_object(Bucket=self.bucket, Key=key)
            raise
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            raise self._wrap("release the lock", name, exc) from exc

    def _read_lock(self, key: str) -> dict:
        try:
            return json.loads(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except Exception:
            return {}


KEEP_LEFTOVERS = 3  # scratch folders and files of earlier runs kept for a post-mortem
# The system temp folder is shared with other processes, paw's own among them (a running dbt
# build's secret folder): an S3 lake's scratch folders carry this prefix, and
# the pruning of stale ones touches nothing else.
S3_STAGING_PREFIX = "paw-staging-"


def remove_all_but_newest(paths: list[Path], keep: int = KEEP_LEFTOVERS) -> list[Path]:
    """Delete all but the `keep` most recently modified of these files or folders."""
    existing = sorted((p for p in paths if p.exists()), key=lambda p: p.stat().st_mtime)
    removed = existing[: max(len(existing) - keep, 0)]
    for path in removed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed


def staging_dir(storage: Storage, run_id: str) -> Path:
    """A scratch folder for a run's files before they are published: inside a local lake (so
    that publishing is a rename on one filesystem), else in the system temp folder."""
    if isinstance(storage, LocalStorage):
        path = storage.root / ".tmp" / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix=f"{S3_STAGING_PREFIX}{run_id}-"))


def clear_stale_staging(storage: Storage) -> None:
    """Scratch folders left by runs that died (called under the lake's lock): all of them in a
    local lake, all but the newest few in the system temp folder for an S3 lake."""
    if isinstance(storage, LocalStorage):
        shutil.rmtree(storage.root / ".tmp", ignore_errors=True)
    else:
        remove_all_but_newest(list(Path(tempfile.gettempdir()).glob(f"{S3_STAGING_PREFIX}*")))
