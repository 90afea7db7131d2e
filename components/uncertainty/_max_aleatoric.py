"""``max_aleatoric``: u(s, a) = max_i ||sigma_i(s, a)||_2 (MOPO Sec. 4.3)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from compose.kinds import Agent, BuildContext, Dynamics, Prediction, Uncertainty
from compose.kinds.uncertainty import member_outputs

__all__ = ["MaxAleatoric", "prediction_outputs"]

#: The former name of :func:`compose.kinds.uncertainty.member_outputs`.
prediction_outputs = member_outputs


class MaxAleatoric(Uncertainty):
    """max over members of the L2 norm of the predicted std vector: [B]."""

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
        """u(s, a) [B]."""
        _, std = member_outputs(
            obs,
            actions,
            dynamics,
            prediction,
            members=self.members,
            include_reward=self.include_reward,
        )
        return torch.linalg.vector_norm(std, dim=-1).amax(0)
