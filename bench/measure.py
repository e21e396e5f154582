"""Measuring a step the same way every time: in a fresh subprocess, seconds and peak memory."""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("paw.bench")

# How long the machine goes on writing back what the harness itself just wrote (a new dataset,
# the pyarrow floor's copies), after `sync` has returned: the host writes it back behind the
# virtual disk. Measured at 1M events, paw's ingestion took 17.8-22.6 s right after 4 GB was
# written (sync or not), 16.7 s 30 s later, 14.2 s 60 s later and 13.6 s with nothing written
# before it (docs/benchmarks.md, the machine).
SETTLE_SECONDS = 60


@dataclass
class Sample:
    seconds: float
    peak_rss_mb: float
    extra: dict = field(default_factory=dict)


@dataclass
class Figure:
    """The median of several samples of one step."""

    name: str
    samples: list[Sample]

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def peak_rss_mb(self) -> float:
        return max(s.peak_rss_mb for s in self.samples)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "median_seconds": round(self.seconds, 4),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "runs_seconds": [round(s.seconds, 4) for s in self.samples],
            "extra": self.samples[-1].extra if self.samples else {},
        }


def settle_disk(written: str, seconds: float = SETTLE_SECONDS) -> None:
    """Before the first timed step after the harness wrote `written`: flush it, then leave the
    machine the time it takes to write it back, so that no step is timed paying for it."""
    log.info("waiting %.0f s for the disk to write back %s before timing a step", seconds, written)
    os.sync()
    time.sleep(seconds)


def ratio(paw_seconds: float, floor_seconds: float) -> float | None:
    """How many times slower paw is than the floor (None when the floor took no time)."""
    if floor_seconds <= 0:
        return None
    return paw_seconds / floor_seconds


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def run_step(
    step: str, args: dict, env: dict[str, str] | None = None, timeout: int = 4 * 3600
) -> Sample:
    """Run `python -m bench.steps <step> '<json args>'` and read the JSON it prints last. The
    timeout stops a hung step, not a slow one: the 100m size's full build takes most of an hour."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.steps", step, json.dumps(args)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench step {step} failed:\n{proc.stderr[-4000:]}")
    return parse_step_output(proc.stdout)


def parse_step_output(stdout: str) -> Sample:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            data = json.loads(line)
            return Sample(data["seconds"], data["peak_rss_mb"], data.get("extra", {}))
    raise ValueError(f"no result line in step output: {stdout[-500:]!r}")
