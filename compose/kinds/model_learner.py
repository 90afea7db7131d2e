"""Kind ``model_learner``: fits the dynamics, before and (optionally) during policy learning."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

import torch

from compose.kinds.base import Component
from compose.kinds.context import UpdateInputs
from compose.kinds.dynamics import Dynamics

__all__ = ["ModelLearner", "ModelStep", "MetricsSink"]

#: Where a learner reports metrics during pretraining: (metrics, step) -> None.
MetricsSink = Callable[[dict[str, float], int], None]


class ModelStep(Protocol):
    """One gradient step of a learner's model phase (:meth:`ModelLearner.trainer`)."""

    def step(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """Update on training rows ``idx`` [E, B] (member e on rows idx[e]); detached terms."""
        ...


class ModelLearner(Component):
    """Fits a :class:`Dynamics`.

    Used by: every algorithm. ``pretrain`` is the model phase (MLE with holdout early
    stopping; ROMI's MLE warm-up; VIPO's augmented loss); ``update`` runs during the policy
    phase on the learner's own schedule (ROMI's bilevel steps, AMPL's periodic
    MIW-weighted retraining, RAMBO's adversarial steps) and is a no-op for ``mle``.

    ``aux_losses`` are the model aux losses of the recipe (``model_learner.aux_losses``),
    built by the learner's config; the learner adds their ``loss_*`` terms to its loss and
    calls their ``update`` before each of its own steps.
    """

    aux_losses: torch.nn.ModuleList

    @abstractmethod
    def pretrain(self, dynamics: Dynamics, data: Any, log: MetricsSink) -> dict[str, float]:
        """Fit ``dynamics`` on the offline ``data``; return final holdout metrics."""

    def trainer(self, dynamics: Dynamics, columns: tuple[torch.Tensor, ...]) -> ModelStep:
        """The model phase's gradient step on the training ``columns`` (obs, actions,
        next_obs, rewards [N], terminals [N]), for a learner whose ``pretrain`` is a sequence
        of such steps (``mle``); ``compose bench`` times it. Default: not offered.
        """
        raise NotImplementedError(f"{type(self).__name__} offers no model-phase trainer()")

    def update(self, inputs: UpdateInputs) -> dict[str, torch.Tensor]:
        """One policy-phase step of model learning, if the schedule says so; default none."""
        return {}

    @property
    def updates_during_policy(self) -> bool:
        """Whether :meth:`update` changes the model during the policy phase: what the
        config's ``trains_in_policy_phase()`` declares (a learner with a config returns it)."""
        return False
