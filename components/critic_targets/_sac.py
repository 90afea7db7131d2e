"""The ``sac`` critic target: soft clipped double-Q regression (VIPO App. D Eq. 21-22)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from compose.kinds import Agent, Batch, BuildContext, CriticTarget, UpdateInputs

if TYPE_CHECKING:
    from components.critic_targets.sac import SacCriticTargetConfig

__all__ = ["SacCriticTarget"]


class SacCriticTarget(CriticTarget):
    """Critic loss sum_k mean_b (Q_k(s, a) - y)^2 with the soft double-Q target y.

    Subclasses (``penalized_sac``) change the target through :meth:`penalty`, which returns a
    per-row amount subtracted from y (and diagnostics). The target is computed without
    gradient; only ``agent.critic`` receives the gradient of ``loss_critic``.
    """

    def __init__(self, config: SacCriticTargetConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config

    @staticmethod
    def _agent(inputs: UpdateInputs) -> Agent:
        if inputs.agent is None:
            raise ValueError("critic target: UpdateInputs.agent is required")
        return inputs.agent

    @staticmethod
    def _batch(inputs: UpdateInputs) -> Batch:
        if inputs.batch is None:
            raise ValueError("critic target: UpdateInputs.batch is required")
        return inputs.batch

    @torch.no_grad()
    def target(self, inputs: UpdateInputs) -> tuple[Tensor, dict[str, Tensor]]:
        """y [B] (no gradient) and the penalty diagnostics."""
        agent, batch = self._agent(inputs), self._batch(inputs)
        n = len(batch)
        nxt = agent.policy(batch.next_obs)
        q_next = agent.target_critic(batch.next_obs, nxt.actions)  # [K, B]
        v_next = q_next.min(dim=0).values
        if self.config.backup_entropy:
            if nxt.log_prob is None:
                raise ValueError("critic target 'sac': the policy returned no log-probability")
            v_next = v_next - agent.temperature().to(v_next) * nxt.log_prob
        rewards = batch.rewards.reshape(n).to(v_next.dtype)
        not_done = 1.0 - batch.terminals.reshape(n).to(v_next.dtype)
        y = rewards + agent.gamma * not_done * v_next
        pen, diag = self.penalty(inputs)
        if pen is not None:
            y = y - pen
        return y, diag

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``loss_critic`` = sum over critics of the mean squared TD error; q/target means."""
        agent, batch = self._agent(inputs), self._batch(inputs)
        y, diag = self.target(inputs)
        q = agent.critic(batch.obs, batch.actions)  # [K, B]
        loss = (q - y.unsqueeze(0)).pow(2).mean(dim=1).sum()
        out: dict[str, Any] = {
            "loss_critic": loss,
            "q_mean": q.detach().mean(),
            "target_mean": y.mean(),
        }
        out.update(diag)
        return out
