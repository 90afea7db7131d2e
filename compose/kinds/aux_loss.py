"""Kind ``aux_loss``: an extra differentiable term attached to the model, critic or actor."""

from __future__ import annotations

from abc import abstractmethod

import torch

from compose.kinds.base import Component
from compose.kinds.context import UpdateInputs

__all__ = ["AuxLoss"]


class AuxLoss(Component):
    """An extra loss term, possibly owning networks it trains itself.

    Used by: VIPO ``value_inconsistency`` and ROMI ``robust_value_aware`` (model), RAMBO
    ``adversarial_value`` (model, during policy learning), COMBO ``conservative_q`` (critic),
    AMPL ``rollout_discriminator`` (actor). Where it may attach is declared by its config's
    ``attaches_to`` and checked when the recipe is validated.

    ``update`` trains owned networks (V_d and V_m, a discriminator) and is called before
    ``loss``; ``loss`` returns ``loss_*`` terms that are added to the attached network's loss
    (their gradients reach only that network's optimizer) plus diagnostics.
    """

    @abstractmethod
    def loss(self, inputs: UpdateInputs) -> dict[str, torch.Tensor]:
        """Named loss terms (keys ``loss_*``) and diagnostics for this batch."""
