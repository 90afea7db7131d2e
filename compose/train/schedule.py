"""The policy phase's schedule: when to roll out, update, log, evaluate, checkpoint and stop.

Reference: MBPO (Janner et al. 2019) Algorithm 2 and MOPO (Yu et al. 2020) Algorithm 2: every
``rollout.every`` steps a round of branched rollouts fills the model buffer; every step one
gradient update on a batch drawn ``real_ratio`` from the dataset and the rest from the model
buffer. Around it: a log line every ``train.log_every`` steps (and at the end), an evaluation
every ``eval.every`` steps, a checkpoint every ``checkpoint.every`` steps, and Ctrl-C asking
for a checkpoint and a stop after the current step.

The schedule is one piece of code; *what* a step updates is a :class:`PolicyUpdate`: one
seed (:class:`compose.train.loop.OneSeed`) or K seeds stacked and vmapped
(:class:`compose.train.seeds.batch.SeedBatch`).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any, Protocol

from rich.console import Console

from compose.train.progress import RunProgress

__all__ = [
    "Interrupted",
    "PolicyUpdate",
    "batch_split",
    "eval_on",
    "run_policy_phase",
    "score_text",
]


class Interrupted(Exception):
    """Ctrl-C: the run saved a checkpoint (``checkpoint`` path, or None) and stopped."""

    def __init__(self, step: int, checkpoint: str | None) -> None:
        self.step = step
        self.checkpoint = checkpoint
        super().__init__(f"interrupted at step {step}")


class PolicyUpdate(Protocol):
    """What the schedule calls: the policy phase's work for one seed or for a batch of seeds."""

    #: The progress bar's label.
    label: str
    #: What Ctrl-C prints (the first press: checkpoint after this step).
    stop_note: str

    def rollout(self, step: int) -> None:
        """One round of branched rollouts into the model buffer(s), its metrics kept for the log."""

    def update(self, step: int, n_real: int, n_model: int) -> None:
        """Sample a batch (``n_real`` dataset rows, ``n_model`` model rows) and take one step;
        its metrics join those not yet logged.

        Components on their own schedule (a model learner firing every 1000 steps, AMPL's
        retrains) return metrics only on the steps they run; keeping them until the next log
        step gets them logged, not overwritten.
        """

    def at(self, step: int) -> None:
        """The number of steps taken so far (read by checkpoints and summaries)."""

    def check(self) -> None:
        """Raise :class:`~compose.train.watch.NonFiniteError` if a value went non-finite."""

    def log(self, rate: float, step: int) -> None:
        """Log (and clear) the metrics gathered since the last log line, with the latest
        rollout's."""

    def evaluate(self, step: int, episodes: int, progress: Callable[[int, int], None]) -> str:
        """Evaluate and record the policy (or policies); returns the bar's score text."""

    def save(self) -> str:
        """Write the checkpoint(s); returns where (for the interrupted message)."""


def batch_split(recipe: Any) -> tuple[int, int]:
    """(dataset rows, model rows) of one gradient batch: ``real_ratio`` of ``batch_size`` real."""
    batch = recipe.train.batch_size
    n_real = int(round(batch * recipe.rollout.real_ratio))
    return n_real, batch - n_real


def run_policy_phase(update: PolicyUpdate, recipe: Any, start: int, console: Console) -> int:
    """Train from step ``start`` to ``recipe.train.steps`` on the schedule; returns the last step.

    Raises :class:`Interrupted` after a Ctrl-C (once the checkpoint is written); a second
    Ctrl-C raises :class:`KeyboardInterrupt` at once.
    """
    r = recipe
    total = r.train.steps
    n_real, n_model = batch_split(r)
    t_log, s_log, step = time.perf_counter(), start, start
    stop = _StopRequest(console, update.stop_note)
    previous = signal.signal(signal.SIGINT, stop.on_sigint)
    try:
        with RunProgress(console, total, step, update.label) as bar:
            while step < total:
                if n_model > 0 and step % r.rollout.every == 0:
                    update.rollout(step)
                update.update(step, n_real, n_model)
                step = done = step + 1
                update.at(done)
                if done % r.train.log_every == 0 or done == total:
                    update.check()
                    now = time.perf_counter()
                    rate = (done - s_log) / max(now - t_log, 1e-9)
                    t_log, s_log = now, done
                    update.log(rate, done)
                    bar.update(done, steps_per_s=rate)
                elif done % 10 == 0:
                    bar.update(done)
                if done % r.eval.every == 0 and done != total:
                    score = update.evaluate(done, r.eval.episodes, eval_on(bar, done))
                    bar.update(done, score=score)
                if done % r.checkpoint.every == 0:
                    update.save()
                if stop.requested:
                    raise Interrupted(done, update.save())
    finally:
        signal.signal(signal.SIGINT, previous)
    return step


class _StopRequest:
    """Ctrl-C once: stop after this step (with a checkpoint); twice: stop now."""

    def __init__(self, console: Console, note: str) -> None:
        self.console, self.note = console, note
        self.requested = False

    def on_sigint(self, signum: int, frame: Any) -> None:
        if self.requested:  # a second Ctrl-C: stop now, keep the last checkpoint
            raise KeyboardInterrupt
        self.requested = True
        self.console.print(f"[yellow]Ctrl-C: {self.note}[/]")


def eval_on(bar: RunProgress, step: int) -> Callable[[int, int], None]:
    """Evaluation progress inside the policy phase, on its bar (one live bar at a time)."""
    return lambda k, total: bar.update(step, note=f"evaluating {k}/{total} env steps")


def score_text(ev: dict[str, float]) -> str:
    """The bar's and the console's short form of an evaluation: normalized score, else return."""
    if "eval/normalized_score" in ev:
        return f"score {ev['eval/normalized_score']:.1f}"
    return f"return {ev['eval/return']:.1f}"
