"""What an ingestion run did, per landing file and in all: the rows of the ingestion log."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from ingestion.contract import INGESTION_LOG_SCHEMA


@dataclass
class FileReport:
    source_file: str
    size_bytes: int = 0
    source_version: str = ""
    content_hash: str = ""
    lines_read: int = 0
    blank_lines: int = 0
    events_landed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    reasons: Counter = field(default_factory=Counter)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None  # the file could not be read; the next run takes it again

    @property
    def reconciles(self) -> bool:
        return self.lines_read == self.events_landed + self.quarantined + self.duplicates


@dataclass
class IngestionReport:
    run_id: str
    files: list[FileReport] = field(default_factory=list)
    unchanged_files: list[str] = field(default_factory=list)
    ignored_files: dict[str, str] = field(default_factory=dict)  # key -> why
    waiting_files: dict[str, str] = field(default_factory=dict)  # key -> why, taken next run
    written_keys: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def lines_read(self) -> int:
        return self.total("lines_read")

    @property
    def events_landed(self) -> int:
        return self.total("events_landed")

    @property
    def quarantined(self) -> int:
        return self.total("quarantined")

    @property
    def duplicates(self) -> int:
        return self.total("duplicates")

    @property
    def failed_files(self) -> list[FileReport]:
        return [f for f in self.files if f.error is not None]

    @property
    def reasons(self) -> Counter:
        total: Counter = Counter()
        for f in self.files:
            total.update(f.reasons)
        return total

    @property
    def reconciles(self) -> bool:
        return all(f.reconciles for f in self.files)

    def summary(self) -> str:
        rate = self.lines_read / self.seconds if self.seconds else 0.0
        read = len(self.files) - len(self.failed_files)
        lines = [
            f"ingestion run {self.run_id}: {read} new file(s), "
            f"{len(self.unchanged_files)} already ingested, {self.seconds:.1f}s "
            f"({rate:,.0f} events/s)",
            f"  read {self.lines_read:,} = landed {self.events_landed:,} + quarantined "
            f"{self.quarantined:,} + duplicates {self.duplicates:,}"
            + ("" if self.reconciles else "  ** DOES NOT RECONCILE **"),
        ]
        if self.reasons:
            by_reason = ", ".join(f"{r} {n:,}" for r, n in self.reasons.most_common())
            lines.append(f"  quarantine reasons: {by_reason}")
        lines += _listed(
            "failed, retried next run", {f.source_file: f.error for f in self.failed_files}
        )
        lines += _listed("waiting, taken again next run", self.waiting_files)
        lines += _listed("ignored", self.ignored_files)
        return "\n".join(lines)

    def one_line(self) -> str:
        """The run in one line, for `paw run`'s stage line."""
        read = len(self.files) - len(self.failed_files)
        line = (
            f"{read:,} new file(s), {len(self.unchanged_files):,} already ingested: "
            f"{self.lines_read:,} lines = {self.events_landed:,} landed + "
            f"{self.quarantined:,} quarantined + {self.duplicates:,} duplicates"
        )
        problems = [
            f"{n} {what}"
            for n, what in (
                (len(self.failed_files), "failed"),
                (len(self.waiting_files), "waiting"),
                (0 if self.reconciles else 1, "NOT RECONCILING"),
            )
            if n
        ]
        return line + (f" ({', '.join(problems)})" if problems else "")

    def log_table(self) -> pa.Table:
        """The run's rows of the ingestion log."""
        columns = INGESTION_LOG_SCHEMA.names[1:]
        data = {name: [getattr(f, name) for f in self.files] for name in columns}
        return pa.table(
            {"run_id": [self.run_id] * len(self.files), **data}, schema=INGESTION_LOG_SCHEMA
        )


def _listed(label: str, files: dict[str, str | None], shown: int = 5) -> list[str]:
    if not files:
        return []
    items = [f"{key} ({why})" for key, why in list(files.items())[:shown]]
    more = f", and {len(files) - shown} more" if len(files) > shown else ""
    return [f"  {label}: {len(files)} file(s): {', '.join(items)}{more}"]
