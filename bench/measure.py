"""Measuring a step the same way every time: in a fresh subprocess, seconds and peak memory."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


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
