"""``none``: r~ = r, with reward diagnostics."""

from __future__ import annotations

from typing import Any

from compose.kinds import Agent, BuildContext, Dynamics, ModelTransitions, RewardShaper, Shaped

__all__ = ["NoShaping"]


class NoShaping(RewardShaper):
    """Returns the model rewards; diagnostics: reward mean, min and max."""

    def __init__(self, config: Any, ctx: BuildContext) -> None:
        super().__init__()

    def shape(
        self, transitions: ModelTransitions, *, dynamics: Dynamics, agent: Agent | None
    ) -> Shaped:
        """r [B] unchanged, diagnostics: reward mean, min and max."""
        r = transitions.rewards
        return Shaped(r, {"reward_mean": r.mean(), "reward_min": r.min(), "reward_max": r.max()})
