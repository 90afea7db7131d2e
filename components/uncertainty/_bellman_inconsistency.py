"""The ``bellman_inconsistency`` uncertainty: MOBILE's Std_i of model backups (VIPO Eq. 20)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from compose.kinds import Agent, BuildContext, Dynamics, Prediction, Uncertainty

if TYPE_CHECKING:
    from components.uncertainty.bellman_inconsistency import BellmanInconsistencyConfig

__all__ = ["BellmanInconsistency"]


class BellmanInconsistency(Uncertainty):
    """u(s, a) = Std_i(gamma * mean_j min_k Qbar_k(s'_ij, a'_ij)), s'_ij ~ P^i(.|s, a).

    One ``dynamics.predict`` (or the given prediction), one draw of the [E, N, B, do]
    next-state noise, ONE policy call and ONE target-critic call on the E*N*B rows, then
    reductions: no Python loop over members, samples or critics. No gradient.
    The random draws, in order: next-state noise [E, N, B, do] from the global RNG, then
    whatever the policy draws for its actions on [E, N, B, do] inputs.
    """

    def __init__(self, config: BellmanInconsistencyConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.samples = int(config.samples)
        self.use_elites = config.members == "elites"
        self.unbiased = bool(config.unbiased)

    @torch.no_grad()
    def forward(
        self,
        obs: Tensor,
        actions: Tensor,
        *,
        dynamics: Dynamics,
        agent: Agent | None = None,
        prediction: Prediction | None = None,
    ) -> Tensor:
        """u(s, a) [B] for obs [B, do], actions [B, da]."""
        if agent is None:
            raise ValueError("uncertainty 'bellman_inconsistency' needs the agent (policy, target critic)")
        pred = prediction if prediction is not None else dynamics.predict(obs, actions)
        do = obs.shape[-1]
        mean, std = pred.mean[..., :do], pred.std[..., :do]  # [E, B, do] next-state deltas
        if self.use_elites:
            mean, std = mean.index_select(0, dynamics.elites), std.index_select(0, dynamics.elites)
        members, batch = mean.shape[0], mean.shape[1]
        if members < 2:
            raise ValueError("uncertainty 'bellman_inconsistency': the std needs >= 2 members")
        noise = torch.randn(
            (members, self.samples, batch, do), device=mean.device, dtype=mean.dtype
        )
        next_obs = (obs + mean).unsqueeze(1) + std.unsqueeze(1) * noise  # [E, N, B, do]
        next_actions = agent.policy(next_obs).actions  # [E, N, B, da]
        q = agent.target_critic(next_obs, next_actions)  # [K, E, N, B]
        backup = agent.gamma * q.min(dim=0).values.mean(dim=1)  # [E, B]
        return backup.std(dim=0, correction=1 if self.unbiased else 0)
