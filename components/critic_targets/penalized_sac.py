"""Config of the ``penalized_sac`` critic target (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from components.critic_targets.sac import SacCriticTargetConfig
from compose.slots import UncertaintySlot

__all__ = ["PenalizedSacConfig"]


class PenalizedSacConfig(SacCriticTargetConfig):
    """MOBILE's pessimistic SAC target: y - beta * u(s, a) on model-generated rows only.

    MOBILE (Sun et al. 2023) as written in VIPO App. D Eq. 22 (real rows: the plain soft
    target) and Eq. 23 (model rows: minus beta U(s, a), U from Eq. 20). Loss as ``sac``:
    sum over critics of each critic's mean squared TD error.
    Why: u is computed on the model rows only (Eq. 22 needs none on real rows), which
    saves the real_ratio share of MOBILE's most expensive computation.
    """

    kind: ClassVar[str] = "critic_target"
    needs_log_prob: ClassVar[bool] = True

    type: Literal["penalized_sac"] = "penalized_sac"  # type: ignore[assignment]
    uncertainty: UncertaintySlot = Field(
        default="bellman_inconsistency",  # type: ignore[assignment]
        description="the uncertainty u(s, a) of model rows",
    )
    beta: float = Field(1.0, ge=0.0, description="penalty coefficient beta (VIPO Table 5)")

    def build(self, ctx: Any) -> Any:
        """Make the critic target and its nested uncertainty."""
        from components.critic_targets._penalized_sac import PenalizedSacCriticTarget

        return PenalizedSacCriticTarget(self, ctx)
