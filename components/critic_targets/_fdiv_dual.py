"""The ``fdiv_dual`` critic target: DAMO Eq. 2, inner minimization.

The f-divergence maths it shares with the ``fdiv_dual`` actor objective (the conjugates f*,
Phi, the initial-state sampler) is in :mod:`components._fdiv`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from components._fdiv import InitialStates, conjugate, conjugate_argmax, phi
from compose.kinds import BuildContext, CriticTarget, UpdateInputs

if TYPE_CHECKING:
    from components.critic_targets.fdiv_dual import FdivDualCriticConfig

__all__ = ["FdivDualCritic"]


class FdivDualCritic(CriticTarget):
    """loss_critic = sum_k [(1-gamma) mean Q_k(s0, a0) + alpha mean f*(Phi_k / alpha)]."""

    def __init__(self, config: FdivDualCriticConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.initial = InitialStates(ctx, config.initial_states)

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``loss_critic`` and diagnostics (Phi, implied ratio, initial-state values)."""
        agent, batch = inputs.agent, inputs.batch
        if agent is None or batch is None:
            raise ValueError(
                "critic target 'fdiv_dual': UpdateInputs.agent and .batch are required"
            )
        cfg = self.config
        alpha = cfg.alpha
        s0 = self.initial.sample(len(batch), batch.obs)
        with torch.no_grad():
            a0 = agent.policy(s0).actions
            nxt = agent.policy(batch.next_obs)
            if cfg.backup_entropy and nxt.log_prob is None:
                raise ValueError(
                    "critic target 'fdiv_dual': backup_entropy needs a policy with log pi"
                )
        q_sa = agent.critic(batch.obs, batch.actions)  # [K, B]
        q0 = agent.critic(s0, a0)  # [K, B0]
        if cfg.bootstrap == "online":
            q_next = agent.critic(batch.next_obs, nxt.actions)  # [K, B], with gradient
        else:
            with torch.no_grad():
                q_next = agent.target_critic(batch.next_obs, nxt.actions).min(dim=0).values
        ph = phi(agent, batch, q_sa, q_next, nxt.log_prob if cfg.backup_entropy else None)
        fstar = conjugate(cfg.conjugate, ph / alpha)
        loss = ((1.0 - agent.gamma) * q0.mean(dim=1) + alpha * fstar.mean(dim=1)).sum()
        with torch.no_grad():
            ratio = conjugate_argmax(cfg.conjugate, ph / alpha)
        return {
            "loss_critic": loss,
            "q_mean": q_sa.detach().mean(),
            "q_init_mean": q0.detach().mean(),
            "phi_mean": ph.detach().mean(),
            "ratio_mean": ratio.mean(),
            "ratio_zero_frac": (ratio == 0).float().mean(),
        }
