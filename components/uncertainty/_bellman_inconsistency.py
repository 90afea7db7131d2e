"""The ``bellman_inconsistency`` uncertainty: MOBILE's Std_i of model backups (VIPO Eq. 20)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from compose.kinds import Agent, BuildContext, Dynamics, Prediction, Uncertainty
from compose.kinds.uncertainty import member_outputs

if TYPE_CHECKING:
    from components.uncertainty.bellman_inconsistency import BellmanInconsistencyConfig

__all__ = ["BellmanInconsistency"]


class BellmanInconsistency(Uncertainty):
    """u(s, a) = Std_i(gamma * mean_j min_k Qbar_k(s'_ij, a'_ij)), s'_ij ~ P^i(.|s, a).

    One ``dynamics.predict`` (or the given prediction), one draw of the [E, N, B, do]
    next-state noise, then per chunk of model rows ONE policy call and ONE target-critic
    call on all E x N x b sample rows of the chunk, and reductions: no Python loop over
    members, samples or critics. No gradient.
    The random draws, in order: the next-state noise [E, N, B, do] from the global RNG,
    then whatever the policy draws for its actions, chunk after chunk.
    Why chunks (``chunk_rows`` sample rows, whole model rows each): the [E*N*B, 256]
    activations of one call (35 MB at MOBILE's shapes) are fresh memory every step and cost
    as much as the matmuls; chunks of ~2000 rows stay in cache. A row's backups depend only
    on its own draws, so chunking changes no result beyond the policy-noise order.
    """

    def __init__(self, config: BellmanInconsistencyConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.samples = int(config.samples)
        self.members = config.members
        self.unbiased = bool(config.unbiased)
        self.chunk_rows = int(getattr(config, "chunk_rows", 2240))

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
            raise ValueError(
                "uncertainty 'bellman_inconsistency' needs the agent (policy, target critic)"
            )
        # [E, B, do]: next-state deltas (the reward column dropped).
        mean, std = member_outputs(
            obs, actions, dynamics, prediction, members=self.members, include_reward=False
        )
        members, batch, do = mean.shape
        if members < 2:
            raise ValueError("uncertainty 'bellman_inconsistency': the std needs >= 2 members")
        noise = torch.randn(
            (members, self.samples, batch, do), device=mean.device, dtype=mean.dtype
        )
        centre = (obs + mean).unsqueeze(1)  # [E, 1, B, do]
        spread = std.unsqueeze(1)
        step = max(1, self.chunk_rows // (members * self.samples))
        correction = 1 if self.unbiased else 0
        out = mean.new_empty(batch)
        for start in range(0, batch, step):  # chunks of model rows, not members/samples
            rows = slice(start, start + step)
            next_obs = centre[:, :, rows] + spread[:, :, rows] * noise[:, :, rows]  # [E, N, b, do]
            next_actions = agent.policy(next_obs).actions  # [E, N, b, da]
            q = agent.target_critic(next_obs, next_actions)  # [K, E, N, b]
            backup = agent.gamma * q.amin(dim=0).mean(dim=1)  # [E, b]
            out[rows] = backup.std(dim=0, correction=correction)
        return out
