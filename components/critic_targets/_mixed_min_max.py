"""The ``mixed_min_max`` critic target: AMPL Eq. 12-13."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from compose.kinds import Agent, Batch, BuildContext, CriticTarget, UpdateInputs

if TYPE_CHECKING:
    from components.critic_targets.mixed_min_max import MixedMinMaxConfig

__all__ = ["MixedMinMaxTarget", "mixed_min_max"]


def mixed_min_max(q: Tensor, c: float) -> Tensor:
    """c * min_k q_k + (1 - c) * max_k q_k over the critic dim 0: [K, ...] -> [...]."""
    return c * q.min(dim=0).values + (1.0 - c) * q.max(dim=0).values


class MixedMinMaxTarget(CriticTarget):
    """loss_critic = sum_k mean_b Huber(Q_k(s, a), y), y from Eq. 12 without gradient."""

    def __init__(self, config: MixedMinMaxConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.uses_target_policy = config.next_action == "target_policy"

    @torch.no_grad()
    def target(self, agent: Agent, batch: Batch) -> Tensor:
        """y [B] = r + gamma (1 - d) (c min + (1 - c) max)_k Qbar_k(s', a'), a' ~ pi_phi'(s')."""
        n = len(batch)
        policy = agent.policy
        if self.uses_target_policy:
            if agent.target_policy is None:
                raise ValueError(
                    "critic target 'mixed_min_max': next_action 'target_policy' needs "
                    "Agent.target_policy (the build adds it); set next_action: policy to "
                    "draw a' from the current policy"
                )
            policy = agent.target_policy
        next_actions = policy(batch.next_obs).actions
        q_next = agent.target_critic(batch.next_obs, next_actions)  # [K, B]
        v_next = mixed_min_max(q_next, self.config.c)
        rewards = batch.rewards.reshape(n).to(v_next.dtype)
        not_done = 1.0 - batch.terminals.reshape(n).to(v_next.dtype)
        return rewards + agent.gamma * not_done * v_next

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``loss_critic`` (sum over critics of the mean Huber/MSE error) and diagnostics."""
        agent, batch = inputs.agent, inputs.batch
        if agent is None or batch is None:
            raise ValueError(
                "critic target 'mixed_min_max': UpdateInputs.agent and .batch are required"
            )
        y = self.target(agent, batch)
        q = agent.critic(batch.obs, batch.actions)  # [K, B]
        yk = y.unsqueeze(0).expand_as(q)
        if self.config.loss == "huber":
            per = F.huber_loss(q, yk, reduction="none", delta=self.config.huber_delta)
        else:
            per = (q - yk).pow(2)
        return {
            "loss_critic": per.mean(dim=1).sum(),
            "q_mean": q.detach().mean(),
            "target_mean": y.mean(),
            "q_spread": (q.detach().max(dim=0).values - q.detach().min(dim=0).values).mean(),
        }
