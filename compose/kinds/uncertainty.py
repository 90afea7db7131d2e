"""Kind ``uncertainty``: u(s, a) per sample."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch

from compose.kinds.agent import Agent
from compose.kinds.base import Component
from compose.kinds.dynamics import Dynamics
from compose.kinds.types import Prediction

__all__ = ["MemberStatistic", "Uncertainty", "member_outputs"]


class Uncertainty(Component):
    """An uncertainty estimate per (s, a), without gradient.

    Used by: MOPO ``max_aleatoric``, MOReL ``max_pairwise_diff``, ``ensemble_std`` (from the
    ensemble's prediction) and MOBILE ``bellman_inconsistency`` (from the dynamics, the
    policy and the target critics). ``prediction`` is passed when the caller already has
    all members' outputs at (obs, actions), so none is computed twice.
    """

    @abstractmethod
    def forward(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        *,
        dynamics: Dynamics,
        agent: Agent | None = None,
        prediction: Prediction | None = None,
    ) -> torch.Tensor:
        """u(s, a): shape [B]."""


def member_outputs(
    obs: torch.Tensor,
    actions: torch.Tensor,
    dynamics: Dynamics,
    prediction: Prediction | None,
    *,
    members: str = "all",
    include_reward: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) [E', B, D'] of the chosen members and output dims, detached.

    The shared preamble of the prediction-based uncertainties: ``prediction`` when the caller
    has it (no second forward pass), else ``dynamics.predict`` without gradient; then every
    member (``members="all"``) or the elites (``"elites"``); the last output column (the
    reward) is dropped unless ``include_reward``.
    """
    if prediction is None:
        with torch.no_grad():
            prediction = dynamics.predict(obs, actions)
    mean, std = prediction.mean.detach(), prediction.std.detach()
    if members == "elites":
        mean, std = mean.index_select(0, dynamics.elites), std.index_select(0, dynamics.elites)
    elif members != "all":
        raise ValueError(f"members must be 'all' or 'elites', got {members!r}")
    if not include_reward:
        mean, std = mean[..., :-1], std[..., :-1]
    return mean, std


class MemberStatistic(Uncertainty):
    """An uncertainty that is a statistic of the members' predicted (mean, std) at (s, a).

    Subclasses implement :meth:`statistic` only; the config supplies ``members`` ("all" or
    "elites") and ``include_reward``. ``prediction`` is used when given (no second pass).
    """

    def __init__(self, config: Any, ctx: Any = None) -> None:
        super().__init__()
        self.members = config.members
        self.include_reward = config.include_reward

    @abstractmethod
    def statistic(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """u from the members' outputs [E', B, D']: shape [B]."""

    def forward(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        *,
        dynamics: Dynamics,
        agent: Agent | None = None,
        prediction: Prediction | None = None,
    ) -> torch.Tensor:
        """u(s, a): shape [B]."""
        mean, std = member_outputs(
            obs,
            actions,
            dynamics,
            prediction,
            members=self.members,
            include_reward=self.include_reward,
        )
        return self.statistic(mean, std)
