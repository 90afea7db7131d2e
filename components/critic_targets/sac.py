"""Config of the ``sac`` critic target (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["SacCriticTargetConfig"]


class SacCriticTargetConfig(ComponentConfig):
    """SAC's soft clipped double-Q target: y = r + gamma (1 - d) (min_k Qbar_k(s', a') - alpha log pi).

    SAC (Haarnoja et al. 2018) with clipped double Q (Fujimoto et al. 2018); as written in
    VIPO App. D Eq. 21-22 (a' ~ pi(s'), alpha from the actor objective's temperature).
    The loss is the SUM over critics of each critic's mean squared TD error (Eq. 21 for
    every k), as SAC and OfflineRL-Kit do: every critic then gets the gradient it would get
    alone, independent of K.
    Why ``backup_entropy``: some MBPO/MOPO code uses a "deterministic backup" without the
    -alpha log pi term in the target; the papers' Eq. 22 keeps it (default True).
    """

    kind: ClassVar[str] = "critic_target"
    needs_log_prob: ClassVar[bool] = True

    type: Literal["sac"] = "sac"
    backup_entropy: bool = Field(
        True, description="subtract alpha * log pi(a'|s') inside the target (soft backup)"
    )
    min_over: Literal["all"] = Field(
        "all", description="which target critics the min is taken over (all K)"
    )

    def build(self, ctx: Any) -> Any:
        """Make the critic target."""
        from components.critic_targets._sac import SacCriticTarget

        return SacCriticTarget(self, ctx)
