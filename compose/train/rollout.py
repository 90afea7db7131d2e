"""Branched model rollouts from dataset states into the model buffer.

Reference: MBPO (Janner et al. 2019) Algorithm 2 lines 5-8 and MOPO (Yu et al. 2020)
Algorithm 2: from states sampled from the offline data, roll the learned model out for h
steps with the current policy (or uniform actions, MOPO App. C.1), shape the rewards, add
every transition to the model buffer, and continue only from non-terminal states.
Why: starts are processed in chunks (``chunk_size``) so peak memory is bounded by the chunk,
not by the rollout batch; all ensemble members are evaluated in one batched call inside
``dynamics.sample`` and the reward shaper reuses that prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from compose.kinds import Agent, Dynamics, Policy, RewardShaper
from compose.train.buffers import TransitionBuffer

__all__ = ["SHAPING_CHECK_ROUND", "RolloutStats", "branched_rollout", "dominant_shaping"]

#: The rollout round (of a process) whose rewards the loop checks with ``dominant_shaping``:
#: not the first, where a fresh policy's actions are off the data and a penalty that later
#: shrinks is large (halfcheetah MOPO without spectral norm: 4.3 at round 1, 3.2 from round 3).
SHAPING_CHECK_ROUND = 5


@dataclass
class RolloutStats:
    """Running sums of one rollout round (device tensors; read them at log time)."""

    transitions: Tensor
    reward_sum: Tensor
    shaped_reward_sum: Tensor
    terminal_sum: Tensor
    diagnostics: dict[str, Tensor]
    starts: int

    def metrics(self) -> dict[str, Tensor]:
        """Means per transition, under ``rollout/`` and ``reward_shaper/``."""
        n = self.transitions.clamp_min(1)
        out = {
            "rollout/transitions": self.transitions,
            "rollout/length_mean": self.transitions / max(self.starts, 1),
            "rollout/reward_mean": self.reward_sum / n,
            "rollout/shaped_reward_mean": self.shaped_reward_sum / n,
            "rollout/terminal_rate": self.terminal_sum / n,
        }
        out.update({f"reward_shaper/{k}": v / n for k, v in self.diagnostics.items()})
        return out


@torch.no_grad()
def branched_rollout(
    starts: Tensor,
    *,
    length: int,
    chunk_size: int,
    dynamics: Dynamics,
    reward_shaper: RewardShaper,
    buffer: TransitionBuffer,
    policy: Policy | None,
    agent: Agent | None,
    action_low: Tensor,
    action_high: Tensor,
    actions: Literal["policy", "uniform"] = "policy",
) -> RolloutStats:
    """Roll ``length`` model steps from every row of ``starts`` [N, obs_dim] into ``buffer``.

    Actions come from the stochastic policy (``actions="policy"``) or uniformly from the
    action box. Rewards are shaped here for a rollout-time shaper; a sampling-time one
    (``reward_shaper.shape_at == "sampling"``) gets the raw model rewards stored, shaped
    per batch by the update step. Returns running sums for logging; diagnostics of the
    reward shaper are averaged per transition (row-weighted).
    """
    device = starts.device
    at_rollout = reward_shaper.shape_at == "rollout"
    zero = torch.zeros((), device=device)
    stats = RolloutStats(zero.clone(), zero.clone(), zero.clone(), zero.clone(), {}, len(starts))
    for chunk in starts.split(chunk_size):
        obs = chunk
        for _ in range(length):
            if actions == "uniform" or policy is None:
                act = action_low + (action_high - action_low) * torch.rand(
                    obs.shape[0], action_low.shape[-1], device=device
                )
            else:
                act = policy(obs).actions
            step = dynamics.sample(obs, act)
            ended: Tensor | None = None
            if at_rollout:
                shaped = reward_shaper.shape(step, dynamics=dynamics, agent=agent)
                rewards, diagnostics, ended = shaped.rewards, shaped.diagnostics, shaped.terminate
            else:  # shaped when sampled (compose.train.step.shape_sampled_rows): store r
                rewards, diagnostics = step.rewards, {}
            done = step.terminals.reshape(-1).bool()
            if ended is not None:  # rows the shaper ends (Shaped.terminate), logged as a rate
                ended = ended.reshape(-1).bool()
                done = done | ended
                diagnostics = {**diagnostics, "terminate": ended}
            buffer.add(obs, act, rewards.reshape(-1), step.next_obs, done)
            rows = obs.shape[0]
            stats.transitions += rows
            stats.reward_sum += step.rewards.sum()
            stats.shaped_reward_sum += rewards.sum()
            stats.terminal_sum += done.sum()
            for key, value in diagnostics.items():
                value = value.detach().float().mean() * rows
                stats.diagnostics[key] = stats.diagnostics.get(key, zero) + value
            keep = ~done
            obs = step.next_obs[keep]  # continue from non-terminal states only
            if obs.shape[0] == 0:
                break
    return stats


def dominant_shaping(metrics: dict[str, Tensor]) -> str | None:
    """A warning when the reward shaper takes more than the whole mean model reward away.

    Why: with a penalty larger than the task reward (MOPO's lambda * max ||Sigma|| on a model
    trained too briefly: a predicted std of 13 against a reward of 4 on halfcheetah after
    4,000 model updates) the agent learns to stay near the data and little else, and nothing
    fails; the run only scores low. ``None`` when the shaper leaves most of the reward.
    """
    raw = float(metrics["rollout/reward_mean"])
    shaped = float(metrics["rollout/shaped_reward_mean"])
    taken = raw - shaped
    if raw == 0.0 or taken <= abs(raw):
        return None
    return (
        f"the reward shaper takes {taken:.3g} per model step from a mean model reward of "
        f"{raw:.3g} (shaped mean {shaped:.3g}): the penalty outweighs the task reward. Usual "
        "causes: a model trained too briefly (large predicted variance; see the model "
        "phase's holdout_nll, raise model_learner.max_updates) or a penalty weight too large "
        "for this dataset (reward_shaper.penalty)."
    )
