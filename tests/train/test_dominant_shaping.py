"""The loop warns once when the reward shaper takes more than the whole model reward away."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from compose.train.rollout import dominant_shaping
from tests.helpers.runs import ROOT, run_tiny


def metrics(raw: float, shaped: float) -> dict[str, torch.Tensor]:
    return {
        "rollout/reward_mean": torch.tensor(raw),
        "rollout/shaped_reward_mean": torch.tensor(shaped),
    }


def test_a_penalty_larger_than_the_reward_is_named() -> None:
    note = dominant_shaping(metrics(4.04, -9.10))  # halfcheetah, 4,000-update MOPO model
    assert note is not None
    assert "13.1 per model step" in note and "4.04" in note and "model_learner.max_updates" in note


@pytest.mark.parametrize(
    ("raw", "shaped"),
    [(4.0, 1.5), (4.0, 4.0), (-6.0, -9.0), (0.0, -1.0), (-6.0, -5.0)],
)
def test_a_moderate_or_absent_penalty_passes(raw: float, shaped: float) -> None:
    assert dominant_shaping(metrics(raw, shaped)) is None


def _run(tmp: Path, label: str, penalty: float) -> tuple[dict, str]:
    return run_tiny(
        "mopo",
        tmp / label,
        f"runtime.model_cache={tmp / 'models'}",
        f"reward_shaper.penalty={penalty}",
        "rollout.every=5",  # 8 rounds in 40 steps: the check runs at round 5
    )


def test_the_run_warns_once_and_records_it(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
    monkeypatch.chdir(ROOT)
    summary, out = _run(tmp_path, "heavy", 1.0e4)
    out = " ".join(out.split())  # the console wraps long lines
    assert out.count("the penalty outweighs the task reward") == 1  # 8 rounds, one warning
    assert "rollout round 5" in out
    assert len(summary["warnings"]) == 1
    assert summary["warnings"][0].startswith("rollout round 5:")
    assert "reward_shaper.penalty" in summary["warnings"][0]
    summary, out = _run(tmp_path, "none", 0.0)
    assert "outweighs" not in out and summary["warnings"] == []
