"""Kind ``reward_shaper``: turns model-transition rewards into training rewards."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Literal

import torch

from compose.kinds.agent import Agent
from compose.kinds.base import Component
from compose.kinds.dynamics import Dynamics
from compose.kinds.types import Batch, ModelTransitions

__all__ = ["RewardShaper", "ShapeAt", "Shaped"]


@dataclass
class Shaped:
    """What a reward shaper returns for B model transitions.

    ``rewards`` [B]: the shaped r~. ``diagnostics``: tensors averaged per transition into the
    logs (``reward_shaper/<key>``). ``terminate`` (bool [B], or None): rows the shaper ends
    (MOReL's HALT state): the rollout stores them as terminal, does not continue from them,
    and logs their fraction as ``reward_shaper/terminate``. Only rollout-time shaping can end
    rows; ``shape_sampled`` leaves it None (its rows are already in the buffer).
    """

    rewards: torch.Tensor
    diagnostics: dict[str, torch.Tensor] = field(default_factory=dict)
    terminate: torch.Tensor | None = None


#: When a shaper's r~ is computed: ``rollout``, once, as rollouts enter the model buffer
#: (:meth:`RewardShaper.shape`); ``sampling``, on the model rows of every policy batch
#: drawn from the buffer, with the shaper's state at that step (:meth:`RewardShaper.shape_sampled`).
ShapeAt = Literal["rollout", "sampling"]


class RewardShaper(Component):
    """r~ for model transitions, at rollout time or at sampling time (``shape_at``).

    Used by: MBPO/MOBILE ``none``, MOPO ``uncertainty_penalty`` (r - lambda u), MOReL HALT,
    DAMO ``classifier_log_ratio`` (r - alpha log(h / (1 - h)); trains h in ``update``).
    Why rollout time (the default): the ensemble's outputs for all members are at hand then,
    so a penalty of the dynamics (MOPO's) costs no second forward pass and is exact: it does
    not change after the rollout. Why sampling time: a shaper with state trained during the
    policy phase (DAMO's classifier, DAMO Algorithm 1 lines 6-8: update h, then compute
    log(rho_M / rho_T) with it, then update the critic) must shape each batch with its
    current state; a reward frozen into the buffer would carry the classifier of the round
    that wrote it. The model buffer then holds the raw model rewards, and the trainer
    replaces the model rows' rewards of each batch by :meth:`shape_sampled`'s, right after
    the shaper's own ``update`` of that step (compose.train.step.UpdateStep).

    A shaper declares its time in ``shape_at`` (a class attribute; a shaper offering both
    sets it per instance from its config). A sampling-time shaper implements
    :meth:`shape_sampled`, which sees only the stored rows (no ensemble prediction).

    A shaper may end rows at rollout time: :attr:`Shaped.terminate` (bool [B]) marks rows
    that become terminal (MOReL's HALT state); the rollout stores them as done and does not
    continue from them.
    """

    shape_at: ShapeAt = "rollout"

    @abstractmethod
    def shape(
        self, transitions: ModelTransitions, *, dynamics: Dynamics, agent: Agent | None
    ) -> Shaped:
        """Shaped rewards [B], diagnostics (and rows to end) for one rollout step."""

    def shape_sampled(
        self, batch: Batch, *, dynamics: Dynamics | None, agent: Agent | None
    ) -> Shaped:
        """Shaped rewards [B] and diagnostics for model rows drawn from the buffer (raw rewards).

        Only sampling-time shapers implement it; :meth:`check_shape_at` says so at build.
        """
        raise NotImplementedError(f"{type(self).__name__} does not shape at sampling time")

    def check_shape_at(self) -> None:
        """Raise a clear error when ``shape_at`` names a time this shaper does not implement."""
        if self.shape_at not in ("rollout", "sampling"):
            raise ValueError(
                f"reward_shaper: shape_at must be 'rollout' or 'sampling', got {self.shape_at!r}"
            )
        if self.shape_at == "sampling" and type(self).shape_sampled is RewardShaper.shape_sampled:
            raise ValueError(
                f"reward_shaper: {type(self).__name__} has shape_at 'sampling' but no "
                "shape_sampled; set shape_at: rollout"
            )
