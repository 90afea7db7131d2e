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
    def fit_normalizer(self, obs: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor) -> None:
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

    def regularization(self) -> torch.Tensor:
        """Penalty added to every model loss (weight decay, log-variance bounds); default 0."""
        return torch.zeros((), device=self.elites.device)
