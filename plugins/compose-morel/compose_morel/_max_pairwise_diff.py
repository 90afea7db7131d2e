"""``max_pairwise_diff``: disc(s, a) = max_{i,j} ||mu_i - mu_j||_2 (MOReL's USAD)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from compose.kinds import Agent, BuildContext, Dynamics, Prediction, Uncertainty
from compose.kinds.uncertainty import member_outputs

__all__ = ["MaxPairwiseDiff"]


class MaxPairwiseDiff(Uncertainty):
    """All member pairs at once with ``torch.cdist`` over the member axis: [B]."""

    def __init__(self, config: Any, ctx: BuildContext) -> None:
        super().__init__()
        self.members = config.members
        self.include_reward = config.include_reward

    def forward(
        self,
        obs: Tensor,
        actions: Tensor,
        *,
        dynamics: Dynamics,
        agent: Agent | None = None,
        prediction: Prediction | None = None,
    ) -> Tensor:
        """u(s, a) [B]; uses ``prediction`` when given (no second forward pass)."""
        mean, _ = member_outputs(
            obs, actions, dynamics, prediction,
            members=self.members, include_reward=self.include_reward,
        )
        per_row = mean.transpose(0, 1).contiguous()  # [B, E, D]
        # Exact Euclidean distances (no matmul shortcut, which loses precision near 0).
        dist = torch.cdist(per_row, per_row, compute_mode="donot_use_mm_for_euclid_dist")
        return dist.flatten(1).amax(1)
