"""Console output of a run: a rich progress bar (steps/s, ETA, latest score) and a summary."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

__all__ = ["RunProgress", "summary_table"]


class RunProgress:
    """The policy-phase progress bar; ``update`` is cheap enough to call every few steps.

    When the console is not a terminal (a log file, a sweep, CI) a live bar cannot render, so
    a plain line (step, percent, steps/s, ETA, latest score) is printed instead, at most every
    ``line_every_s`` seconds and whenever the score changes.
    """

    def __init__(
        self, console: Console, total: int, start: int, name: str, line_every_s: float = 30.0
    ) -> None:
        self.console, self.total, self.name = console, total, name
        self.line_every_s = line_every_s
        self._last_line = time.monotonic()
        self._score = ""
        self._rate: float | None = None
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[score]}"),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(name, total=total, completed=start, rate="", score="")

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def update(self, step: int, steps_per_s: float | None = None, score: str | None = None) -> None:
        """Move the bar to ``step`` and refresh the rate / latest score fields."""
        fields: dict[str, Any] = {}
        if steps_per_s is not None:
            fields["rate"] = f"{steps_per_s:.0f} steps/s"
        if score is not None:
            fields["score"] = score
        self.progress.update(self.task, completed=step, **fields)
        if not self.console.is_terminal:
            self._plain_line(step, steps_per_s, score)

    def _plain_line(self, step: int, steps_per_s: float | None, score: str | None) -> None:
        self._rate = steps_per_s or self._rate
        now = time.monotonic()
        new_score = score is not None and score != self._score
        if not new_score and now - self._last_line < self.line_every_s:
            return
        self._last_line, self._score = now, score if score is not None else self._score
        parts = [f"{self.name}: step {step}/{self.total} ({100.0 * step / max(self.total, 1):.0f}%)"]
        if self._rate:
            eta = (self.total - step) / self._rate
            parts.append(f"{self._rate:.1f} steps/s, ETA {int(eta // 60)}:{int(eta % 60):02d}")
        if self._score:
            parts.append(self._score)
        self.console.print(", ".join(parts), highlight=False)


def summary_table(summary: dict[str, Any]) -> Table:
    """The end-of-run table: scores, wall time, speed, where things are."""
    table = Table(title=f"run {summary.get('name', '')}: {summary.get('status', '')}")
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("normalized score", summary.get("final_normalized_score")),
        ("return", summary.get("final_return")),
        ("steps", summary.get("steps")),
        ("wall time (s)", summary.get("wall_time_s")),
        ("policy steps/s", summary.get("steps_per_s")),
        ("model phase (s)", summary.get("model_phase_s")),
        ("run dir", summary.get("run_dir")),
        ("aim run", summary.get("aim_run_hash")),
    ]
    for what, value in rows:
        if value is None:
            continue
        text = f"{value:.2f}" if isinstance(value, float) else str(value)
        table.add_row(what, text)
    return table
