"""Kind ``policy``: the actor network."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch

from compose.kinds.base import Component

__all__ = ["Policy", "PolicySample"]


@dataclass(frozen=True)
class PolicySample:
    """Actions drawn from the policy, and their log-density when the policy has one."""

    actions: torch.Tensor
    log_prob: torch.Tensor | None


class Policy(Component):
    """pi(a | s). Used by: every algorithm (SAC's tanh-Gaussian; AMPL's implicit a = pi(s, z)).

    ``has_log_prob`` is False for policies without a tractable density (implicit); actor
    objectives and critic targets that need log pi check it when the recipe is built.
    """

    has_log_prob: ClassVar[bool] = True

    @abstractmethod
    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> PolicySample:
        """Sample actions for a batch of observations (reparameterized: grads flow)."""

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions for evaluation."""
        return self.forward(obs, deterministic=True).actions
