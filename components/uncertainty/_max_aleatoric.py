"""``max_aleatoric``: u(s, a) = max_i ||sigma_i(s, a)||_2 (MOPO Sec. 4.3)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from compose.kinds import Agent, BuildContext, Dynamics, Prediction, Uncertainty

__all__ = ["MaxAleatoric", "prediction_outputs"]


def prediction_outputs(
    obs: Tensor,
    actions: Tensor,
    dynamics: Dynamics,
    prediction: Prediction | None,
    *,
    members: str,
    include_reward: bool,
) -> tuple[Tensor, Tensor]:
    """(mean, std) [E', B, D'] of the chosen members and output dims, without gradient.

    Uses ``prediction`` when given (no second forward pass), else ``dynamics.predict``.
    """
    if prediction is None:
        with torch.no_grad():
            prediction = dynamics.predict(obs, actions)
    mean, std = prediction.mean.detach(), prediction.std.detach()
    if members == "elites":
        mean, std = mean[dynamics.elites], std[dynamics.elites]
    if not include_reward:
        mean, std = mean[..., :-1], std[..., :-1]
    return mean, std


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
        _, std = prediction_outputs(
            obs,
            actions,
            dynamics,
            prediction,
            members=self.members,
            include_reward=self.include_reward,
        )
        return torch.linalg.vector_norm(std, dim=-1).amax(0)
