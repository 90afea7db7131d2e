"""Config of the ``sac`` actor objective (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["SacActorConfig"]


class SacActorConfig(ComponentConfig):
    """SAC's actor loss mean(alpha log pi(a|s) - min_k Q_k(s, a)) with an auto-tuned alpha.

    SAC (Haarnoja et al. 2018, "SAC algorithms and applications", Eq. 17-18) as written in
    VIPO App. D Eq. 24; the temperature loss is -log_alpha (log pi + H_target), driving the
    policy entropy towards ``target_entropy`` ("auto" = -act_dim).
    Why lr 1e-4: the temperature lr of OfflineRL-Kit's MOPO/MOBILE defaults (equal to the
    actor lr of VIPO Table 4); SAC's own paper uses 3e-4.
    """

    kind: ClassVar[str] = "actor_objective"
    needs_log_prob: ClassVar[bool] = True

    type: Literal["sac"] = "sac"
    auto_alpha: bool = Field(True, description="tune alpha towards the target entropy")
    alpha: float = Field(0.2, gt=0.0, description="initial (or fixed) temperature alpha")
    alpha_lr: float = Field(1e-4, gt=0.0, lt=1.0, description="Adam lr of log alpha")
    target_entropy: float | Literal["auto"] = Field(
        "auto", description='entropy target; "auto" = -act_dim'
    )

    def build(self, ctx: Any) -> Any:
        """Make the actor objective (it owns log alpha and its optimizer)."""
        from components.actor_objectives._sac import SacActorObjective

        return SacActorObjective(self, ctx)
