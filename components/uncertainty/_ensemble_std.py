"""``ensemble_std``: u(s, a) = ||Std_i mu_i(s, a)||_2 (ensemble disagreement)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from compose.kinds import Agent, BuildContext, Dynamics, Prediction, Uncertainty
from compose.kinds.uncertainty import member_outputs

__all__ = ["EnsembleStd"]


class EnsembleStd(Uncertainty):
    """Norm over output dims of the per-dim std of the members' means: [B]."""

    def __init__(self, config: Any, ctx: BuildContext) -> None:
        super().__init__()
        self.members = config.members
        self.include_reward = config.include_reward
        self.correction = 1 if config.unbiased else 0

    def forward(
        self,
        obs: Tensor,
        actions: Tensor,
        *,
        dynamics: Dynamics,
        agent: Agent | None = None,
        prediction: Prediction | None = None,
    ) -> Tensor:
        """u(s, a) [B]."""
        mean, _ = member_outputs(
            obs,
            actions,
            dynamics,
            prediction,
            members=self.members,
            include_reward=self.include_reward,
        )
        std = torch.std(mean, dim=0, correction=self.correction)
        return torch.linalg.vector_norm(std, dim=-1)
