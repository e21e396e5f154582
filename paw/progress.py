"""What `paw run` shows while it works: one line per stage, with a progress bar on a terminal.

The pipeline's assets report to a `Progress` (a Dagster resource); `paw run` gives them a
`ConsoleProgress`, the schedule and `dagster dev` the silent default (their progress is in
Dagster's own logs)."""

from __future__ import annotations

import collections
import contextlib
import io
import sys
import time
from collections.abc import Iterator
from typing import TextIO

BAR_WIDTH = 24
REDRAW_SECONDS = 0.2


class Progress:
    """The silent reporter: what assets call, doing nothing."""

    def start(self, stage: str, total: int | None = None, unit: str = "") -> None:
        """A stage begins; `total` items of `unit` are expected when known."""

    def advance(self, stage: str, done: int, total: int | None = None, detail: str = "") -> None:
        """`done` of the stage's items are finished (of `total`, when it became known);
        `detail` says more (e.g. events read)."""

    def finish(self, stage: str, outcome: str) -> None:
        """The stage ended; `outcome` is its one-line result."""

    def quieted(self) -> contextlib.AbstractContextManager:
        """Where a stage's chatter goes (dbt writes its log to stdout): left alone here."""
        return contextlib.nullcontext()


class ConsoleProgress(Progress):
    """One line per stage. On a terminal the line is a live bar redrawn in place; elsewhere
    (a log file, CI) only the stage's final line is written."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.totals: dict[str, tuple[int | None, str]] = {}
        self.started: dict[str, float] = {}
        self.drawn_at = 0.0

    def start(self, stage: str, total: int | None = None, unit: str = "") -> None:
        self.totals[stage] = (total, unit)
        self.started[stage] = time.monotonic()
        if self.live:
            self._draw(stage, 0, "", force=True)

    def advance(self, stage: str, done: int, total: int | None = None, detail: str = "") -> None:
        if total is not None:
            self.totals[stage] = (total, self.totals.get(stage, (None, ""))[1])
        if self.live:
            self._draw(stage, done, detail)

    def finish(self, stage: str, outcome: str) -> None:
        line = f"{stage:<8} {outcome}"
        if stage in self.started:
            line += f" ({time.monotonic() - self.started[stage]:.0f}s)"
        if self.live:
            self.stream.write("\r\033[K" + line + "\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    @contextlib.contextmanager
    def quieted(self) -> Iterator[None]:
        """Swallow what is written to stdout meanwhile (dbt's log, echoed by dagster-dbt): the
        stage's line says it. On a failure its last lines are shown, which name the cause."""
        chatter = _Tail()
        try:
            with contextlib.redirect_stdout(chatter):
                yield
        except BaseException:
            self.stream.write("\n" + "".join(chatter.lines))
            raise

    def _draw(self, stage: str, done: int, detail: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.drawn_at < REDRAW_SECONDS:
            return
        self.drawn_at = now
        total, unit = self.totals.get(stage, (None, ""))
        if total:
            filled = min(BAR_WIDTH, BAR_WIDTH * done // total)
            bar = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + f"] {done:,}/{total:,} {unit}"
        else:
            bar = f"{done:,} {unit}"
        text = f"{stage:<8} {bar}" + (f", {detail}" if detail else "")
        self.stream.write("\r\033[K" + text)
        self.stream.flush()


class _Tail(io.TextIOBase):
    """A text stream keeping only its last lines."""

    def __init__(self, keep: int = 40) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)

    def write(self, text: str) -> int:
        self.lines.extend(text.splitlines(keepends=True))
        return len(text)
