"""``uncertainty_penalty``: r~ = r - lambda u(s, a) (MOPO Eq. 10)."""

from __future__ import annotations

from typing import Any

import torch

from compose.kinds import (
    Agent,
    BuildContext,
    Dynamics,
    ModelTransitions,
    RewardShaper,
    Uncertainty,
)

__all__ = ["UncertaintyPenalty"]


class UncertaintyPenalty(RewardShaper):
    """Subtracts lambda * u(s, a), u from the nested uncertainty component."""

    def __init__(self, config: Any, ctx: BuildContext) -> None:
        super().__init__()
        self.penalty = float(config.penalty)
        self.uncertainty: Uncertainty = ctx.build(config.uncertainty)

    def shape(
        self, transitions: ModelTransitions, *, dynamics: Dynamics, agent: Agent | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(r - lambda u [B], diagnostics: penalty mean/max, uncertainty and reward means)."""
        u = self.uncertainty(
            transitions.obs,
            transitions.actions,
            dynamics=dynamics,
            agent=agent,
            prediction=transitions.prediction,
        )
        penalty = self.penalty * u
        r = transitions.rewards
        shaped = r - penalty
        return shaped, {
            "penalty_mean": penalty.mean(),
            "penalty_max": penalty.max(),
            "uncertainty_mean": u.mean(),
            "raw_reward_mean": r.mean(),
            "shaped_reward_mean": shaped.mean(),
        }
