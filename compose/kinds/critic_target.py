"""Kind ``critic_target``: the target and loss of the critic update."""

from __future__ import annotations

from abc import abstractmethod

import torch

from compose.kinds.base import Component
from compose.kinds.context import UpdateInputs

__all__ = ["CriticTarget"]


class CriticTarget(Component):
    """The critic objective on a mixed (real + model) batch.

    Used by: ``sac`` (min double-Q soft target), MOBILE ``penalized_sac`` (minus beta u on
    model rows), AMPL ``mixed_min_max`` (Huber), DAMO ``fdiv_dual``. ``loss`` returns at
    least ``loss_critic`` plus diagnostics (q means, target means, penalties).
    ``uses_target_policy``: set True (per instance, from the config) to have the build add
    a target policy to the agent (``Agent.target_policy``, soft-updated after every actor
    step with ``train.tau``).
    """

    uses_target_policy: bool = False

    @abstractmethod
    def loss(self, inputs: UpdateInputs) -> dict[str, torch.Tensor]:
        """Critic loss terms for ``inputs.batch`` using ``inputs.agent``."""

    def penalty(self, inputs: UpdateInputs) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """The per-row amount [B] this target subtracts from its backup (MOBILE's beta u(s, a)
        on model rows; None: nothing) and its diagnostics. Default: none.

        Part of the contract so that ``compose bench`` can time a penalty on its own.
        """
        return None, {}
