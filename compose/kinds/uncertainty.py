"""Kind ``uncertainty``: u(s, a) per sample."""

from __future__ import annotations

from abc import abstractmethod

import torch

from compose.kinds.agent import Agent
from compose.kinds.base import Component
from compose.kinds.dynamics import Dynamics
from compose.kinds.types import Prediction

__all__ = ["Uncertainty"]


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
