"""Without a terminal (logs, sweeps, CI) the run prints plain progress lines."""

from __future__ import annotations

import io

from rich.console import Console

from compose.train.progress import RunProgress


def test_plain_lines_when_not_a_terminal() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=120)
    with RunProgress(console, 100, 0, "mopo", line_every_s=3600.0) as bar:
        bar.update(10, 5.0)  # too soon after the start: no line
        bar.update(20, 5.0, score="eval 12.3")  # a new score: a line
        bar.update(30, 5.0, score="eval 12.3")  # same score, too soon: no line
        bar.update(40, score="eval 20.0")  # the last known rate is kept for the ETA
    lines = [ln for ln in buf.getvalue().splitlines() if ln.startswith("mopo: step")]
    assert lines == [
        "mopo: step 20/100 (20%), 5.0 steps/s, ETA 0:16, eval 12.3",
        "mopo: step 40/100 (40%), 5.0 steps/s, ETA 0:12, eval 20.0",
    ]


def test_rate_shows_from_the_first_update() -> None:
    """Before the first log step gives a rate, the bar shows the mean rate since it started."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=120)
    with RunProgress(console, 1000, 0, "model phase", line_every_s=0.0, unit="epochs") as bar:
        bar._t0 -= 10.0  # ten seconds ago
        bar.update(5)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.startswith("model phase: epoch")]
    assert lines and "2.0 s/epoch" in lines[0] and "ETA" in lines[0], buf.getvalue()
    assert "steps/s" not in bar.progress.tasks[0].fields["rate"]
