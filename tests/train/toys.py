"""Tiny hand-checkable implementations of the kind contracts for buffer/rollout tests.

They implement the real ABCs of compose.kinds (no mocking): a deterministic linear
"dynamics" s' = s + a with r = s[0] and termination when s'[0] > 1, a constant policy and
a shaper that subtracts a fixed penalty.
"""

from __future__ import annotations

import torch
from torch import Tensor

from compose.kinds import (
    Dynamics,
    ModelTransitions,
    Policy,
    PolicySample,
    Prediction,
    RewardShaper,
    Shaped,
)


class ShiftDynamics(Dynamics):
    """s' = s + a (obs_dim == act_dim), r = s[0]; done when s'[0] > 1."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.members, self.obs_dim, self.act_dim = 1, dim, dim
        self.register_buffer("elites", torch.zeros(1, dtype=torch.long))

    def fit_normalizer(self, obs: Tensor, actions: Tensor, targets: Tensor) -> None:
        """Nothing to fit."""

    def predict(self, obs: Tensor, actions: Tensor) -> Prediction:
        """One member, zero variance."""
        mean = torch.cat([actions, obs[:, :1]], -1)[None]
        zeros = torch.zeros_like(mean)
        return Prediction(mean, zeros, mean, zeros)

    def sample(self, obs: Tensor, actions: Tensor, deterministic: bool = False) -> ModelTransitions:
        """The deterministic step."""
        pred = self.predict(obs, actions)
        next_obs = obs + actions
        return ModelTransitions(
            obs,
            actions,
            next_obs,
            obs[:, 0],
            next_obs[:, 0] > 1.0,
            torch.zeros(len(obs), dtype=torch.long),
            pred,
        )

    def log_prob(self, obs: Tensor, actions: Tensor, next_obs: Tensor, rewards: Tensor) -> Tensor:
        """Not used."""
        return torch.zeros(1, len(obs))

    def set_elites(self, indices: Tensor) -> None:
        """Not used."""


class ConstantPolicy(Policy):
    """a = c for every state."""

    def __init__(self, value: float, dim: int) -> None:
        super().__init__()
        self.value, self.dim = value, dim

    def forward(self, obs: Tensor, deterministic: bool = False) -> PolicySample:
        """The constant action."""
        return PolicySample(torch.full((len(obs), self.dim), self.value), None)


class FixedPenalty(RewardShaper):
    """r~ = r - c."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = c

    def shape(self, transitions, *, dynamics, agent):  # type: ignore[no-untyped-def]
        """Subtract the constant and report it."""
        return Shaped(transitions.rewards - self.c, {"penalty_mean": torch.full((), self.c)})


class CurrentPenalty(FixedPenalty):
    """r~ = r - c with c the shaper's current state, at rollout or at sampling time."""

    def __init__(self, c: float, shape_at: str) -> None:
        super().__init__(c)
        self.shape_at = shape_at  # type: ignore[assignment]

    def shape_sampled(self, batch, *, dynamics, agent):  # type: ignore[no-untyped-def]
        """Subtract the constant as it is now."""
        return Shaped(batch.rewards - self.c, {"sampled_penalty": torch.full((), self.c)})
