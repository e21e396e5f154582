"""Benchmark datasets: landing files made by paw's own generator, cached under data/bench/."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from ingestion.storage import LocalStorage
from simulator.sample_data import GenerateOptions, generate

log = logging.getLogger("paw.bench")

EVENTS_PER_USER = 31  # at 90 days, measured on the generator; sizes the user count
SHARD_USERS = 20_000  # users per generator call: bounds the generator's memory
END_DATE = date(2026, 10, 31)  # fixed, so that a cached dataset and a new one are the same
SIZES = {"1m": 1_000_000, "10m": 10_000_000, "100m": 100_000_000}
# `make bench` runs these; 100m is asked for by name (SIZE=100m): generating and ingesting it
# takes hours here, and its shards (20,000 users each) bound the generator's memory
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


def ensure_dataset(size: str, base: Path) -> Dataset:
    root = base / size
    marker = root / "dataset.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        return Dataset(size, root, info["events"], info["files"])
    users = SIZES[size] // EVENTS_PER_USER
    storage = LocalStorage(root / "landing")
    events = files = 0
    for shard, first in enumerate(range(0, users, SHARD_USERS)):
        options = GenerateOptions(
            users=min(SHARD_USERS, users - first),
            days=90,
            seed=1000 + shard,
            end_date=END_DATE,
            first_user=first,
            file_prefix=f"shard-{shard:03d}/",
        )
        report = generate(storage, options)
        events += report.events
        files += report.files
        log.info("dataset %s: shard %d, %d events so far", size, shard, events)
    marker.write_text(
        json.dumps(
            {
                "events": events,
                "files": files,
                "users": users,
                "options": asdict(options) | {"end_date": str(END_DATE)},
            },
            default=str,
        )
    )
    return Dataset(size, root, events, files)
