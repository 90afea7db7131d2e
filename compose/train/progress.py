"""Console output of a run: progress bars (rate, ETA, latest score) and the summary table.

Every phase longer than a few seconds shows one: dataset making, the model phase, policy
pretraining, the policy phase and the final evaluation.
"""

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

__all__ = ["RunProgress", "rate_text", "summary_table"]


def rate_text(rate: float, unit: str) -> str:
    """``rate`` units per second, readable at any speed (``12 steps/s``, ``3.5 s/epoch``)."""
    if rate >= 10:
        return f"{rate:.0f} {unit}/s"
    if rate >= 1:
        return f"{rate:.1f} {unit}/s"
    if rate > 0:
        return f"{1.0 / rate:.1f} s/{unit.rstrip('s')}"
    return ""


class RunProgress:
    """A phase's progress bar; ``update`` is cheap enough to call every few steps.

    The rate shown is the one given to :meth:`update` (the policy phase's, measured between
    log steps) and, until one is given, the mean since the bar started, so it shows from the
    first update. ``total`` None: a count without ETA.
    When the console is not a terminal (a log file, a sweep, CI) a live bar cannot render, so
    a plain line (step, percent, rate, ETA, latest score) is printed instead, at most every
    ``line_every_s`` seconds and whenever the score changes.
    """

    def __init__(
        self,
        console: Console,
        total: int | None,
        start: int,
        name: str,
        line_every_s: float = 30.0,
        unit: str = "steps",
    ) -> None:
        self.console, self.total, self.name, self.unit = console, total, name, unit
        self.line_every_s = line_every_s
        self._t0 = self._last_line = time.monotonic()
        self._start = start
        self._given_rate = False
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

    def update(
        self,
        step: int,
        steps_per_s: float | None = None,
        score: str | None = None,
        note: str | None = None,
    ) -> None:
        """Move the bar to ``step`` and refresh the rate / latest score fields.

        ``note`` (e.g. an evaluation's progress) is shown in place of the score until the
        next score; unlike a new score it does not force a plain line.
        """
        fields: dict[str, Any] = {}
        if steps_per_s is not None:
            self._given_rate = True
        elif not self._given_rate and step > self._start:
            steps_per_s = (step - self._start) / max(time.monotonic() - self._t0, 1e-9)
        if steps_per_s is not None:
            fields["rate"] = rate_text(steps_per_s, self.unit)
        if score is not None:
            fields["score"] = score
        elif note is not None:
            fields["score"] = note
        self.progress.update(self.task, completed=step, **fields)
        if not self.console.is_terminal:
            self._plain_line(step, steps_per_s, score, note)

    def _plain_line(
        self, step: int, steps_per_s: float | None, score: str | None, note: str | None = None
    ) -> None:
        self._rate = steps_per_s or self._rate
        now = time.monotonic()
        new_score = score is not None and score != self._score
        if not new_score and now - self._last_line < self.line_every_s:
            return
        self._last_line, self._score = now, score if score is not None else self._score
        word = self.unit.rstrip("s")
        if self.total:
            parts = [
                f"{self.name}: {word} {step}/{self.total} "
                f"({100.0 * step / max(self.total, 1):.0f}%)"
            ]
        else:
            parts = [f"{self.name}: {word} {step}"]
        if self._rate:
            text = rate_text(self._rate, self.unit)
            if self.total:
                eta = max(self.total - step, 0) / self._rate
                text += f", ETA {_clock(eta)}"
            parts.append(text)
        if note is not None and score is None:
            parts.append(note)
        elif self._score:
            parts.append(self._score)
        self.console.print(", ".join(parts), highlight=False)


def _clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


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
