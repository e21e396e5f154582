"""Benchmark datasets: landing files made by paw's own generator, cached under data/bench/."""

from __future__ import annotations

import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from ingestion.storage import LocalStorage
from simulator.sample_data import GenerateOptions, GenerateReport, generate

log = logging.getLogger("paw.bench")

EVENTS_PER_USER = 31  # at 90 days, measured on the generator; sizes the user count
SHARD_USERS = 20_000  # users per generator call: bounds the generator's memory
END_DATE = date(2026, 10, 31)  # fixed, so that a cached dataset and a new one are the same
# Disk per event, measured at 10m and 100m, for the checks before hours of work: the landing
# files (plain NDJSON or gzip), the lake, a warehouse, and DuckDB's spill beside them. At 100M
# events (stop 34) the spill reached 26 GB (int_event_groups, before it stopped materializing
# every event), while the warehouse was 13 GB of its final 25: lake, warehouse and 12 GB still
# bound what the disk held at once (46 GB at its fullest).
PLAIN_BYTES_PER_EVENT = 500
GZIP_BYTES_PER_EVENT = 95
LAKE_BYTES_PER_EVENT = 80
WAREHOUSE_BYTES_PER_EVENT = 300
SPILL_BYTES = 12 * 2**30


@dataclass(frozen=True)
class Size:
    """A benchmark size. The 100m one is built for this machine's disk: its landing files are
    all gzip (about 10 GB instead of 46 GB), and it measures paw alone
    (bench.__main__.bench_paw_only)."""

    events: int
    gzip_share: float = 0.25  # the generator's default: a mix of plain and gzip files
    paw_only: bool = False


SIZES = {
    "1m": Size(1_000_000),
    "10m": Size(10_000_000),
    "100m": Size(100_000_000, gzip_share=1.0, paw_only=True),
}
# `make bench` runs these; 100m is asked for by name (SIZE=100m): it takes about two hours here
DEFAULT_SIZES = ("1m", "10m")


@dataclass
class Dataset:
    size: str
    root: Path
    events: int
    files: int

    @property
    def landing(self) -> Path:
        return self.root / "landing"


def landing_bytes(size: str) -> int:
    share = SIZES[size].gzip_share
    per_event = PLAIN_BYTES_PER_EVENT * (1 - share) + GZIP_BYTES_PER_EVENT * share
    return int(SIZES[size].events * per_event)


def require_free_disk(path: Path, needed: int, what: str) -> None:
    """Fail before the work, not an hour into it, when the disk cannot hold what it writes."""
    path.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path).free
    if free < needed:
        raise RuntimeError(
            f"{what} needs about {needed / 2**30:.0f} GB free at {path}: "
            f"{free / 2**30:.0f} GB are free"
        )


def _generate_shard(landing: Path, options: GenerateOptions) -> GenerateReport:
    return generate(LocalStorage(landing), options)


def shard_options(size: str) -> list[GenerateOptions]:
    """The generator calls of a size: shards of SHARD_USERS users, each with its own seed, so
    that they can run in any order (or side by side) and give the same files."""
    users = SIZES[size].events // EVENTS_PER_USER
    return [
        GenerateOptions(
            users=min(SHARD_USERS, users - first),
            days=90,
            seed=1000 + shard,
            end_date=END_DATE,
            first_user=first,
            file_prefix=f"shard-{shard:03d}/",
            gzip_share=SIZES[size].gzip_share,
        )
        for shard, first in enumerate(range(0, users, SHARD_USERS))
    ]


def dataset_marker(size: str, base: Path) -> Path:
    """Written once a size's dataset is complete: what it holds and how it was generated."""
    return base / size / "dataset.json"


def ensure_dataset(size: str, base: Path) -> Dataset:
    root = base / size
    marker = dataset_marker(size, base)
    if marker.exists():
        info = json.loads(marker.read_text())
        return Dataset(size, root, info["events"], info["files"])
    landing = root / "landing"
    written = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
    require_free_disk(root, landing_bytes(size) - written, f"the {size} dataset's landing files")
    shards = shard_options(size)
    events = files = 0
    # one generator per core: the 100m dataset's 162 shards take 40 minutes on one
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = [pool.submit(_generate_shard, landing, o) for o in shards]
        for number, future in enumerate(futures):
            report = future.result()
            events += report.events
            files += report.files
            log.info(
                "dataset %s: shard %d of %d, %d events so far",
                size,
                number + 1,
                len(shards),
                events,
            )
    marker.write_text(
        json.dumps(
            {
                "events": events,
                "files": files,
                "users": SIZES[size].events // EVENTS_PER_USER,
                "options": asdict(shards[-1]) | {"end_date": str(END_DATE)},
            },
            default=str,
        )
    )
    return Dataset(size, root, events, files)
