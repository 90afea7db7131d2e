"""The ``sac`` actor objective: soft policy improvement with auto-tuned temperature (VIPO Eq. 24)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from compose.kinds import ActorObjective, BuildContext, UpdateInputs
from compose.nn import make_adam, q_without_param_grad

if TYPE_CHECKING:
    from components.actor_objectives.sac import SacActorConfig

__all__ = ["SacActorObjective", "q_without_param_grad"]  # re-export: old import path


class SacActorObjective(ActorObjective):
    """loss_actor = mean(alpha log pi(a|s) - min_k Q_k(s, a)); loss_alpha for the temperature.

    ``log_alpha`` is a parameter of this component with its own Adam, registered as an
    attached optimizer (the trainer steps it after the backward of the actor losses).
    ``loss_alpha`` = -mean(log_alpha * (log pi + H_target).detach()) reaches only log_alpha;
    ``loss_actor`` uses the detached alpha and reaches only the policy.
    """

    def __init__(self, config: SacActorConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.auto_alpha = bool(config.auto_alpha)
        if config.target_entropy == "auto":
            self.target_entropy = -float(ctx.act_dim)
        else:
            self.target_entropy = float(config.target_entropy)
        init = torch.tensor(math.log(config.alpha), dtype=torch.float32, device=ctx.device)
        if self.auto_alpha:
            self.log_alpha = nn.Parameter(init)
            self.register_optimizer(
                "alpha", make_adam([self.log_alpha], lr=config.alpha_lr), attached=True
            )
        else:
            self.register_buffer("log_alpha", init)

    def temperature(self) -> Tensor:
        """alpha = exp(log_alpha), detached."""
        return self.log_alpha.detach().exp()

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """Actor and temperature losses on ``inputs.batch`` (or ``inputs.real``)."""
        agent = inputs.agent
        if agent is None:
            raise ValueError("actor objective 'sac': UpdateInputs.agent is required")
        batch = inputs.batch if inputs.batch is not None else inputs.real
        sample = agent.policy(batch.obs)
        if sample.log_prob is None:
            raise ValueError("actor objective 'sac': the policy returned no log-probability")
        q = q_without_param_grad(agent.critic, batch.obs, sample.actions).min(dim=0).values
        alpha = self.temperature()
        out: dict[str, Tensor] = {
            "loss_actor": (alpha * sample.log_prob - q).mean(),
            "alpha": alpha,
            "entropy": -sample.log_prob.detach().mean(),
            "q_pi_mean": q.detach().mean(),
        }
        if self.auto_alpha:
            slack = (sample.log_prob + self.target_entropy).detach()
            out["loss_alpha"] = -(self.log_alpha * slack).mean()
        return out
