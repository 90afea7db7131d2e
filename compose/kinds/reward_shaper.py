"""Kind ``reward_shaper``: turns model-transition rewards into training rewards."""

from __future__ import annotations

from abc import abstractmethod

import torch

from compose.kinds.agent import Agent
from compose.kinds.base import Component
from compose.kinds.dynamics import Dynamics
from compose.kinds.types import ModelTransitions

__all__ = ["RewardShaper", "TERMINATE"]

#: Reserved diagnostic key: bool [B] rows a shaper ends (they are stored as terminal).
TERMINATE = "terminate"


class RewardShaper(Component):
    """r~ for model transitions, computed when rollouts enter the model buffer.

    Used by: MBPO/MOBILE ``none``, MOPO ``uncertainty_penalty`` (r - lambda u), MOReL HALT,
    DAMO ``classifier_log_ratio`` (r - alpha log(h / (1 - h)); trains h in ``update``).
    Why at rollout time: the ensemble's outputs for all members are at hand then, so a
    penalty costs no second forward pass.

    A shaper may end rows: a diagnostic under the reserved key :data:`TERMINATE` (bool [B])
    marks rows that become terminal (MOReL's HALT state); the rollout stores them as done and
    does not continue from them.
    """

    @abstractmethod
    def shape(
        self, transitions: ModelTransitions, *, dynamics: Dynamics, agent: Agent | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(shaped rewards [B], diagnostics) for one rollout step."""
