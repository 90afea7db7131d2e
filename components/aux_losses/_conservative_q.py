"""The ``conservative_q`` critic aux loss: COMBO's CQL(rho) penalty on model states."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from compose.kinds import Agent, AuxLoss, Batch, BuildContext, UpdateInputs

if TYPE_CHECKING:
    from components.aux_losses.conservative_q import ConservativeQConfig

__all__ = ["ConservativeQ"]


class ConservativeQ(AuxLoss):
    """loss_conservative = beta * sum_k (push-down_k - push-up_k); gradients reach the critic only.

    Push-down states are the model rows (``inputs.model``, else the ``from_model`` rows of
    ``inputs.batch``, else the whole batch); push-up pairs are the dataset rows
    (``inputs.real``). Sampled actions carry no gradient.
    """

    def __init__(self, config: ConservativeQConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        low = torch.as_tensor(ctx.action_low, dtype=torch.float32).reshape(ctx.act_dim)
        high = torch.as_tensor(ctx.action_high, dtype=torch.float32).reshape(ctx.act_dim)
        self.register_buffer("action_low", low.to(ctx.device))
        self.register_buffer("action_high", high.to(ctx.device))
        # log density of the uniform distribution on the box.
        self.uniform_log_prob = -float(torch.log(high - low).sum())

    @staticmethod
    def push_down_batch(inputs: UpdateInputs) -> Batch:
        """The rows whose states the penalty pushes Q down on."""
        if inputs.model is not None and len(inputs.model) > 0:
            return inputs.model
        batch = inputs.batch
        if batch is None:
            return inputs.real
        if batch.from_model is not None and bool(batch.from_model.any()):
            m = batch.from_model
            return Batch(
                batch.obs[m],
                batch.actions[m],
                batch.rewards[m],
                batch.next_obs[m],
                batch.terminals[m],
            )
        return batch

    def _logsumexp(self, agent: Agent, obs: Tensor) -> Tensor:
        """[K, B]: log (1/2N) sum_i exp(Q_k(s, a_i) - log mu(a_i)) over uniform and policy actions."""
        n, b = self.config.num_actions, obs.shape[0]
        rep = obs.unsqueeze(0).expand(n, *obs.shape)  # [N, B, do]
        with torch.no_grad():
            u = torch.rand((n, b, self.action_low.shape[0]), device=obs.device, dtype=obs.dtype)
            uniform = self.action_low + u * (self.action_high - self.action_low)
            pol = agent.policy(rep)
        actions = torch.cat([uniform, pol.actions.detach()], dim=0)  # [2N, B, da]
        q = agent.critic(torch.cat([rep, rep], dim=0), actions)  # [K, 2N, B]
        if self.config.importance_sampling and pol.log_prob is not None:
            log_mu = torch.cat(
                [
                    torch.full((n, b), self.uniform_log_prob, device=obs.device, dtype=q.dtype),
                    pol.log_prob.detach().to(q.dtype),
                ],
                dim=0,
            )
            q = q - log_mu.unsqueeze(0)
        return torch.logsumexp(q, dim=1) - math.log(2 * n)

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``loss_conservative`` (weighted penalty) and the push-down / push-up means."""
        agent = inputs.agent
        if agent is None:
            raise ValueError("aux loss 'conservative_q': UpdateInputs.agent is required")
        down = self.push_down_batch(inputs)
        q_data = agent.critic(inputs.real.obs, inputs.real.actions)  # [K, Bd]
        if self.config.variant == "logsumexp":
            pushed = self._logsumexp(agent, down.obs).mean(dim=1)  # [K]
        else:
            with torch.no_grad():
                pi_actions = agent.policy(down.obs).actions
            q_model = agent.critic(down.obs, down.actions).mean(dim=1)
            q_pi = agent.critic(down.obs, pi_actions).mean(dim=1)
            pushed = 0.5 * (q_model + q_pi)
        gap = pushed - q_data.mean(dim=1)  # [K]
        return {
            "loss_conservative": self.config.weight * gap.sum(),
            "push_down_mean": pushed.detach().mean(),
            "push_up_mean": q_data.detach().mean(),
            "gap": gap.detach().mean(),
        }
