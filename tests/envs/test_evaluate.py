"""The evaluator: seeded, deterministic, exact episode count, normalized scores."""

from __future__ import annotations

import pytest
import torch

from compose.envs import evaluate, normalized_score
from compose.envs.reference import d4rl_ref_scores, env_id_for


def _zero(obs: torch.Tensor) -> torch.Tensor:
    return torch.zeros(obs.shape[0], 1)


def test_evaluate_inverted_pendulum_is_deterministic() -> None:
    a = evaluate(
        _zero, "InvertedPendulum-v5", episodes=3, seed=7, ref_min_score=0.0, ref_max_score=1000.0
    )
    b = evaluate(
        _zero, "InvertedPendulum-v5", episodes=3, seed=7, ref_min_score=0.0, ref_max_score=1000.0
    )
    assert a == b and len(a.returns) == 3
    # reward is 1 per non-terminal step, so a return equals its length minus the terminal step
    assert all(r in (n - 1, n) for r, n in zip(a.returns, a.lengths, strict=True))
    assert a.normalized_mean == pytest.approx(a.mean_return / 10)
    assert set(a.as_metrics()) >= {"return_mean", "normalized_score_mean"}


def test_evaluate_uses_d4rl_refs_for_locomotion() -> None:
    res = evaluate(
        lambda o: torch.zeros(o.shape[0], 3), "Hopper-v5", episodes=2, seed=0, max_episode_steps=50
    )
    assert (res.ref_min_score, res.ref_max_score) == (-20.272305, 3234.3)
    assert res.normalized_mean == pytest.approx(
        normalized_score(res.mean_return, -20.272305, 3234.3)
    )
    assert max(res.lengths) <= 50


def test_reference_tables() -> None:
    assert normalized_score(3234.3, -20.272305, 3234.3) == pytest.approx(100.0)
    assert d4rl_ref_scores("HalfCheetah-v5").max_score == 12135.0
    assert d4rl_ref_scores("Walker2d-v4").min_score == 1.629008
    assert d4rl_ref_scores("InvertedPendulum-v5") is None
    assert env_id_for("walker2d") == "Walker2d-v5"
    with pytest.raises(ValueError, match="unknown env 'ant'"):
        env_id_for("ant")
    with pytest.raises(ValueError, match="equal"):
        normalized_score(1.0, 2.0, 2.0)
