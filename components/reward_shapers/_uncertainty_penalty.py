"""``uncertainty_penalty``: r~ = r - lambda u(s, a) (MOPO Eq. 10)."""

from __future__ import annotations

from typing import Any

from compose.kinds import (
    Agent,
    BuildContext,
    Dynamics,
    ModelTransitions,
    RewardShaper,
    Shaped,
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
    ) -> Shaped:
        """r - lambda u [B], diagnostics: penalty mean/max, uncertainty and reward means."""
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
        return Shaped(
            shaped,
            {
                "penalty_mean": penalty.mean(),
                "penalty_max": penalty.max(),
                "uncertainty_mean": u.mean(),
                "raw_reward_mean": r.mean(),
                "shaped_reward_mean": shaped.mean(),
            },
        )
