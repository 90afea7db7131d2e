"""Config of the ``uncertainty_penalty`` reward shaper (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig
from compose.slots import UncertaintySlot

__all__ = ["UncertaintyPenaltyConfig"]


class UncertaintyPenaltyConfig(ComponentConfig):
    """MOPO's uncertainty-penalized reward: r~(s, a) = r(s, a) - lambda * u(s, a).

    MOPO (Yu et al. 2020) Eq. 10 / Algorithm 2 with lambda = ``penalty`` (Table 4: 0.5 to 5)
    and u = ``uncertainty`` (default ``max_aleatoric``, MOPO Sec. 4.3).
    Why at rollout time: the ensemble's prediction for all members is in hand, so the
    uncertainty costs no second forward pass.
    """

    kind: ClassVar[str] = "reward_shaper"
    type: Literal["uncertainty_penalty"] = "uncertainty_penalty"

    penalty: float = Field(1.0, ge=0.0, description="lambda, the penalty coefficient")
    uncertainty: UncertaintySlot = Field(  # type: ignore[assignment]
        default="max_aleatoric", description="the uncertainty estimator u(s, a)"
    )

    def build(self, ctx: Any) -> Any:
        """Make the :class:`~components.reward_shapers._uncertainty_penalty.UncertaintyPenalty`."""
        from components.reward_shapers._uncertainty_penalty import UncertaintyPenalty

        return UncertaintyPenalty(self, ctx)
