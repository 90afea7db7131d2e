"""The ``q_normalized`` actor objective: AMPL Eq. 17 (without L_g, an aux loss)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from compose.kinds import ActorObjective, BuildContext, UpdateInputs
from compose.nn import q_without_param_grad

if TYPE_CHECKING:
    from components.actor_objectives.q_normalized import QNormalizedConfig

__all__ = ["QNormalizedObjective"]


class QNormalizedObjective(ActorObjective):
    """loss_actor = -(lambda' / Q_avg) mean_b Q(s_b, pi(s_b)); Q_avg is a soft-updated buffer.

    ``q_avg`` is updated (no gradient) from the current batch before the loss is formed,
    so lambda is a constant of each step; ``q_avg_initialized`` marks the first batch,
    which sets Q_avg directly.
    """

    def __init__(self, config: QNormalizedConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("q_avg", torch.ones((), device=ctx.device))
        self.register_buffer(
            "q_avg_initialized", torch.zeros((), dtype=torch.bool, device=ctx.device)
        )

    @torch.no_grad()
    def _update_q_avg(self, q: Tensor) -> None:
        batch_avg = q.abs().mean().to(self.q_avg)
        tau = torch.where(self.q_avg_initialized, self.config.q_avg_tau, 1.0).to(self.q_avg)
        self.q_avg.lerp_(batch_avg, tau)
        self.q_avg_initialized.fill_(True)

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``loss_actor`` and diagnostics (lambda, Q_avg, mean Q under pi)."""
        agent = inputs.agent
        if agent is None:
            raise ValueError("actor objective 'q_normalized': UpdateInputs.agent is required")
        batch = inputs.batch if inputs.batch is not None else inputs.real
        actions = agent.policy(batch.obs).actions
        qs = q_without_param_grad(agent.critic, batch.obs, actions)  # [K, B]
        q = qs.min(dim=0).values if self.config.q_over == "min" else qs.mean(dim=0)
        self._update_q_avg(q.detach())
        lam = self.config.lambda_prime / self.q_avg.clamp_min(self.config.eps)
        return {
            "loss_actor": -(lam * q).mean(),
            "lambda": lam,
            "q_avg": self.q_avg.clone(),
            "q_pi_mean": q.detach().mean(),
        }
