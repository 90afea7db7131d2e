"""``none``: r~ = r, with reward diagnostics."""

from __future__ import annotations

from typing import Any

import torch

from compose.kinds import Agent, BuildContext, Dynamics, ModelTransitions, RewardShaper

__all__ = ["NoShaping"]


class NoShaping(RewardShaper):
    """Returns the model rewards; diagnostics: reward mean, min and max."""

    def __init__(self, config: Any, ctx: BuildContext) -> None:
        super().__init__()

    def shape(
        self, transitions: ModelTransitions, *, dynamics: Dynamics, agent: Agent | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(r [B], diagnostics)."""
        r = transitions.rewards
        return r, {"reward_mean": r.mean(), "reward_min": r.min(), "reward_max": r.max()}
