"""Config of the ``max_pairwise_diff`` uncertainty (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["MaxPairwiseDiffConfig"]


class MaxPairwiseDiffConfig(ComponentConfig):
    """MOReL's ensemble discrepancy: the largest distance between two members' predictions.

    MOReL (Kidambi et al. 2020), the unknown state-action detector (USAD):
    disc(s, a) = max_{i, j} || mu_i(s, a) - mu_j(s, a) ||_2 over member pairs, on the
    predicted next-state means (raw units).
    Why ``include_reward: false``: MOReL measures disagreement on the next state only.
    Why ``members: all``: every trained member votes; ``elites`` restricts to the elites.
    """

    kind: ClassVar[str] = "uncertainty"
    type: Literal["max_pairwise_diff"] = "max_pairwise_diff"

    members: Literal["all", "elites"] = Field("all", description="members compared pairwise")
    include_reward: bool = Field(False, description="include the reward mean in the distance")

    def build(self, ctx: Any) -> Any:
        """Make the :class:`~compose_morel._max_pairwise_diff.MaxPairwiseDiff` estimator."""
        from compose_morel._max_pairwise_diff import MaxPairwiseDiff

        return MaxPairwiseDiff(self, ctx)
