"""Kind ``dynamics``: the learned model P(s', r, done | s, a)."""

from __future__ import annotations

from abc import abstractmethod

import torch

from compose.kinds.base import Component
from compose.kinds.types import ModelTransitions, Prediction

__all__ = ["Dynamics"]


class Dynamics(Component):
    """An ensemble of probabilistic models over (delta s, r) with a termination function.

    Used by: every algorithm. ``predict`` gives all members' Gaussians (uncertainty, NLL);
    ``sample`` draws one rollout step from a random elite per row; ``log_prob`` gives
    log P_theta(s', r | s, a) per member, differentiable w.r.t. the parameters, for
    score-function gradients (VIPO Eq. 11, RAMBO's adversarial loss).
    """

    members: int
    obs_dim: int
    act_dim: int
    elites: torch.Tensor

    @abstractmethod
    def fit_normalizer(
        self, obs: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor
    ) -> None:
        """Set input and target normalization from data (targets = [delta s, r])."""

    @abstractmethod
    def predict(self, obs: torch.Tensor, actions: torch.Tensor) -> Prediction:
        """All members' predictive Gaussians at (obs, actions); obs [B, do] or [E, B, do]."""

    @abstractmethod
    def sample(
        self, obs: torch.Tensor, actions: torch.Tensor, deterministic: bool = False
    ) -> ModelTransitions:
        """One model step per row from a uniformly random elite, with termination applied."""

    @abstractmethod
    def log_prob(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        next_obs: torch.Tensor,
        rewards: torch.Tensor,
    ) -> torch.Tensor:
        """log P_theta(s', r | s, a) for every member: [E, B]."""

    @abstractmethod
    def set_elites(self, indices: torch.Tensor) -> None:
        """Choose the elite members (e.g. the best on holdout)."""

    def regularization(self, optimizer_decay: bool = False) -> torch.Tensor:
        """Penalty added to every model loss (weight decay, log-variance bounds); default 0.

        ``optimizer_decay=True``: without the L2 terms listed by :meth:`optimizer_weight_decay`
        (the learner's optimizer applies those).
        """
        return torch.zeros((), device=self.elites.device)

    def optimizer_weight_decay(self) -> list[tuple[torch.nn.Parameter, float]]:
        """(parameter p, c) pairs whose term 0.5 * c * ||p||^2 in :meth:`regularization` an
        optimizer may apply as its L2 weight decay c instead; default none.

        Why: Adam's (coupled) weight decay adds c * p to the gradient, the gradient of that
        term, inside the fused update; the same update without the term's forward and
        backward kernels. A learner that uses this calls ``regularization(optimizer_decay=True)``.
        """
        return []
