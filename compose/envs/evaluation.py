"""Policy evaluation on a seeded Gymnasium vector env: raw returns and normalized scores.

Reference: the D4RL evaluation protocol (deterministic policy, N episodes, mean return,
normalized score 100 * (R - R_random) / (R_expert - R_random)).
Why: all episodes run side by side in one ``SyncVectorEnv`` so the policy sees one batch per
step; each sub-env is seeded ``seed + i`` and autoreset is ignored once an episode is done, so
exactly ``episodes`` episodes are counted and results do not depend on finishing order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from compose.envs.reference import d4rl_ref_scores, normalized_score

ActFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class EvalResult:
    """Evaluation summary; normalized fields are None when no reference scores are known."""

    mean_return: float
    std_return: float
    returns: list[float]
    lengths: list[int]
    normalized_mean: float | None
    normalized_std: float | None
    ref_min_score: float | None
    ref_max_score: float | None

    def as_metrics(self) -> dict[str, float]:
        """Flat metrics for a tracker (``eval/return_mean`` style keys without the prefix)."""
        out = {
            "return_mean": self.mean_return,
            "return_std": self.std_return,
            "length_mean": float(np.mean(self.lengths)),
        }
        if self.normalized_mean is not None and self.normalized_std is not None:
            out["normalized_score_mean"] = self.normalized_mean
            out["normalized_score_std"] = self.normalized_std
        return out


@torch.no_grad()
def evaluate(
    act_fn: ActFn,
    env_id: str,
    episodes: int = 10,
    seed: int = 0,
    ref_min_score: float | None = None,
    ref_max_score: float | None = None,
    max_episode_steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Run ``episodes`` episodes of ``act_fn`` (obs [n, do] float32 -> actions [n, da]).

    Reference scores default to D4RL's for the locomotion tasks. Actions are clipped to the
    action space before stepping. ``progress(step, max_steps)`` is called after every
    (vectorized) env step; ``max_steps`` is the env's step limit (episodes may end sooner).
    """
    if ref_min_score is None and ref_max_score is None:
        ref = d4rl_ref_scores(env_id)
        if ref is not None:
            ref_min_score, ref_max_score = ref.min_score, ref.max_score
    kwargs = {"max_episode_steps": max_episode_steps} if max_episode_steps else {}
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make(env_id, **kwargs) for _ in range(episodes)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    try:
        low = envs.single_action_space.low
        high = envs.single_action_space.high
        obs, _ = envs.reset(seed=[seed + i for i in range(episodes)])
        returns = np.zeros(episodes)
        lengths = np.zeros(episodes, dtype=np.int64)
        alive = np.ones(episodes, dtype=bool)
        limit = int(max_episode_steps or getattr(envs.envs[0].spec, "max_episode_steps", 0) or 0)
        t = 0
        while alive.any():
            action = act_fn(torch.as_tensor(obs, dtype=torch.float32))
            action = np.clip(action.detach().cpu().numpy().astype(np.float64), low, high)
            obs, reward, terminated, truncated, _ = envs.step(action)
            returns += reward * alive
            lengths += alive
            alive &= ~(terminated | truncated)
            t += 1
            if progress is not None:
                progress(t if alive.any() else max(t, limit), max(limit, t))
    finally:
        envs.close()
    normalized = None
    if ref_min_score is not None and ref_max_score is not None:
        normalized = np.array([normalized_score(r, ref_min_score, ref_max_score) for r in returns])
    return EvalResult(
        mean_return=float(returns.mean()),
        std_return=float(returns.std()),
        returns=[float(r) for r in returns],
        lengths=[int(n) for n in lengths],
        normalized_mean=None if normalized is None else float(normalized.mean()),
        normalized_std=None if normalized is None else float(normalized.std()),
        ref_min_score=ref_min_score,
        ref_max_score=ref_max_score,
    )
