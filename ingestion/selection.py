"""Which landing files a run takes: one answer for ingestion and the landing-zone sensor.

A file is new when the ingestion log has no successful reading of it, or when it changed since:
its size differs, or its version (a local file's modification time, an S3 ETag) differs and so
does its SHA-256. Deciding that a file was already ingested never reads it when size and version
match, so a run with nothing to do costs one listing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ingestion.contract import LANDING_SUFFIXES
from ingestion.lake import LogEntry
from ingestion.reader import HashingReader
from ingestion.storage import ObjectInfo, Storage

HASH_READ_BYTES = 8 * 1024 * 1024


def is_landing_file(key: str) -> bool:
    """NDJSON by its name, any case, optionally gzip-compressed."""
    name = key.rsplit("/", 1)[-1].lower().removesuffix(".gz")
    return name.endswith(LANDING_SUFFIXES)


def content_hash(storage: Storage, key: str) -> str:
    with storage.open_read(key) as raw:
        reader = HashingReader(raw)
        while reader.read(HASH_READ_BYTES):
            pass
    return reader.sha256.hexdigest()


def is_new(obj: ObjectInfo, entry: LogEntry | None, hash_of: Callable[[], str]) -> bool:
    """True when `obj` is not the file the log entry describes; hashes only when the cheap
    markers disagree."""
    if entry is None or entry.size_bytes != obj.size:
        return True
    if entry.source_version and entry.source_version == obj.version:
        return False
    return hash_of() != entry.content_hash


@dataclass
class LandingSelection:
    new: list[ObjectInfo] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # key -> why it is not taken (hidden, not NDJSON, a symlink leading outside)
    ignored: dict[str, str] = field(default_factory=dict)
    # files that cannot be read now (a dangling symlink): recorded as failed, retried
    unreadable: dict[str, str] = field(default_factory=dict)


def select_landing_files(landing: Storage, entries: dict[str, LogEntry]) -> LandingSelection:
    selection = LandingSelection()
    for obj in landing.list(include_hidden=True):
        if obj.is_hidden:
            selection.ignored[obj.key] = "hidden (its name starts with '.')"
        elif not is_landing_file(obj.key):
            selection.ignored[obj.key] = f"not {'/'.join(LANDING_SUFFIXES)}[.gz]"
        elif obj.leads_outside:
            selection.ignored[obj.key] = "a symlink to a file outside the landing zone"
        elif obj.problem is not None:
            selection.unreadable[obj.key] = obj.problem
        elif is_new(obj, entries.get(obj.key), lambda key=obj.key: content_hash(landing, key)):
            selection.new.append(obj)
        else:
            selection.unchanged.append(obj.key)
    return selection
