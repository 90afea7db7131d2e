"""Kind ``actor_objective``: the actor loss and, when it has one, the temperature."""

from __future__ import annotations

from abc import abstractmethod

import torch

from compose.kinds.base import Component
from compose.kinds.context import UpdateInputs

__all__ = ["ActorObjective"]


class ActorObjective(Component):
    """The actor objective on a batch.

    Used by: ``sac`` (auto-tuned alpha), AMPL ``q_normalized`` (lambda'/Q_avg), DAMO
    ``fdiv_dual`` (alpha fixed). ``loss`` returns ``loss_actor`` (and e.g. ``loss_alpha``,
    whose gradient reaches only the temperature, stepped as an attached optimizer).
    """

    @abstractmethod
    def loss(self, inputs: UpdateInputs) -> dict[str, torch.Tensor]:
        """Actor loss terms for ``inputs.batch`` using ``inputs.agent``."""

    def temperature(self) -> torch.Tensor:
        """The entropy coefficient alpha the critic target should use (detached); default 0."""
        return torch.zeros(())
