"""The policy phase's one schedule (compose.train.schedule), driven by a recording update:
when it rolls out, updates, logs, evaluates, checkpoints and stops (MBPO Algorithm 2)."""

from __future__ import annotations

import io
import os
import signal
from types import SimpleNamespace

import pytest
from rich.console import Console

from compose.train.schedule import Interrupted, batch_split, run_policy_phase


def recipe(steps: int = 10, real_ratio: float = 0.5) -> SimpleNamespace:
    return SimpleNamespace(
        train=SimpleNamespace(steps=steps, batch_size=8, log_every=4),
        rollout=SimpleNamespace(real_ratio=real_ratio, every=3),
        eval=SimpleNamespace(every=5, episodes=2),
        checkpoint=SimpleNamespace(every=6),
    )


class Recorder:
    label = "fake"
    stop_note = "stopping"

    def __init__(self, stop_at: int | None = None) -> None:
        self.calls: list[tuple] = []
        self.stop_at = stop_at
        self.step = -1

    def rollout(self, step: int) -> None:
        self.calls.append(("rollout", step))

    def update(self, step: int, n_real: int, n_model: int) -> None:
        self.calls.append(("update", step, n_real, n_model))
        if step + 1 == self.stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    def at(self, step: int) -> None:
        self.step = step

    def check(self) -> None:
        self.calls.append(("check", self.step))

    def log(self, rate: float, step: int) -> None:
        self.calls.append(("log", step))

    def evaluate(self, step: int, episodes: int, progress: object) -> str:
        self.calls.append(("evaluate", step, episodes))
        return "score 1.0"

    def save(self) -> str:
        self.calls.append(("save", self.step))
        return "ckpt"


def quiet() -> Console:
    return Console(file=io.StringIO())


def test_the_schedule_calls_the_update_on_its_steps() -> None:
    fake = Recorder()
    assert run_policy_phase(fake, recipe(), 0, quiet()) == 10
    kinds = {
        k: [c[1] for c in fake.calls if c[0] == k] for k in ("rollout", "log", "evaluate", "save")
    }
    assert kinds == {"rollout": [0, 3, 6, 9], "log": [4, 8, 10], "evaluate": [5], "save": [6]}
    assert [c[1:] for c in fake.calls if c[0] == "update"] == [(s, 4, 4) for s in range(10)]
    assert ("check", 4) in fake.calls and fake.step == 10


def test_no_rollouts_without_model_rows_and_a_resumed_phase_starts_at_its_step() -> None:
    fake = Recorder()
    assert batch_split(recipe(real_ratio=1.0)) == (8, 0)
    run_policy_phase(fake, recipe(real_ratio=1.0), 7, quiet())
    assert not [c for c in fake.calls if c[0] == "rollout"]
    assert [c[1] for c in fake.calls if c[0] == "update"] == [7, 8, 9]


def test_ctrl_c_saves_after_the_step_and_stops() -> None:
    fake = Recorder(stop_at=2)
    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted) as info:
        run_policy_phase(fake, recipe(), 0, quiet())
    assert info.value.step == 2 and info.value.checkpoint == "ckpt"
    assert fake.calls[-1] == ("save", 2)
    assert signal.getsignal(signal.SIGINT) is previous
