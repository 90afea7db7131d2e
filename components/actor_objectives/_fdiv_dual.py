"""The ``fdiv_dual`` actor objective: DAMO Eq. 2 outer maximization (App. C.2)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from components._fdiv import InitialStates, conjugate, phi
from compose.kinds import ActorObjective, BuildContext, UpdateInputs
from compose.nn import make_adam, q_without_param_grad

if TYPE_CHECKING:
    from components.actor_objectives.fdiv_dual import FdivDualActorConfig

__all__ = ["FdivDualActor"]


class FdivDualActor(ActorObjective):
    """loss_actor = -[(1-gamma) mean Q(s0, pi(s0)) + alpha mean f*(Phi/alpha)] + alpha_ent mean log pi.

    Q is the min over critics with the critics' parameters detached (gradients reach the
    policy only, through a0 = pi(s0), a' = pi(s') and a = pi(s)). ``loss_alpha`` tunes
    alpha_ent (attached optimizer), as SAC's.
    """

    def __init__(self, config: FdivDualActorConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.initial = InitialStates(ctx, config.initial_states)
        self.target_entropy = (
            -float(ctx.act_dim) if config.target_entropy == "auto" else float(config.target_entropy)
        )
        init = torch.tensor(math.log(config.entropy_alpha), dtype=torch.float32, device=ctx.device)
        if config.auto_entropy:
            self.log_alpha = nn.Parameter(init)
            self.register_optimizer(
                "alpha", make_adam([self.log_alpha], lr=config.entropy_lr), attached=True
            )
        else:
            self.register_buffer("log_alpha", init)

    def temperature(self) -> Tensor:
        """alpha_ent = exp(log_alpha), detached (used by the critic's soft backup)."""
        return self.log_alpha.detach().exp()

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``loss_actor``, ``loss_alpha`` and diagnostics."""
        agent, batch = inputs.agent, inputs.batch
        if agent is None or batch is None:
            raise ValueError(
                "actor objective 'fdiv_dual': UpdateInputs.agent and .batch are required"
            )
        cfg = self.config
        s0 = self.initial.sample(len(batch), batch.obs)
        a0 = agent.policy(s0).actions
        q0 = q_without_param_grad(agent.critic, s0, a0).min(dim=0).values
        nxt = agent.policy(batch.next_obs)
        cur = agent.policy(batch.obs)
        if nxt.log_prob is None or cur.log_prob is None:
            raise ValueError("actor objective 'fdiv_dual': the policy returned no log-probability")
        q_next = q_without_param_grad(agent.critic, batch.next_obs, nxt.actions).min(dim=0).values
        with torch.no_grad():
            q_sa = agent.critic(batch.obs, batch.actions).min(dim=0).values
        ph = phi(agent, batch, q_sa, q_next, nxt.log_prob)
        objective = (1.0 - agent.gamma) * q0.mean() + cfg.alpha * conjugate(
            cfg.conjugate, ph / cfg.alpha
        ).mean()
        alpha_ent = self.temperature()
        out: dict[str, Tensor] = {
            "loss_actor": -objective + (alpha_ent * cur.log_prob).mean(),
            "objective": objective.detach(),
            "phi_mean": ph.detach().mean(),
            "alpha_ent": alpha_ent,
            "entropy": -cur.log_prob.detach().mean(),
        }
        if cfg.auto_entropy:
            slack = (cur.log_prob + self.target_entropy).detach()
            out["loss_alpha"] = -(self.log_alpha * slack).mean()
        return out
