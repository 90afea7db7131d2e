"""ROMI's robust value-aware model loss L_RVL (torch-free config).

The implementation is in :mod:`components.aux_losses._robust_value_aware`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

if TYPE_CHECKING:
    from compose.kinds.context import BuildContext

__all__ = ["RobustValueAwareConfig"]


class RobustValueAwareConfig(ComponentConfig):
    """ROMI robust value-aware loss: (E_{s^~T_psi(s,a)} Vbar(s^) - min_i Vbar(s'_i))^2 (Eq. 6).

    ROMI (Sec. 4.1, Eq. 6, Prop. 4.1): for (s, a, s') ~ D, draw N states from the
    state uncertainty set U_xi(s') = {s^ : ||s^ - s'|| <= xi} and regress the model's expected
    next-state value onto the smallest of their values. Vbar(s) = E_{a~pi} min_k Qbar_k(s, a)
    from the agent's target critics and current policy (one action per state).
    Why ``noise: ball`` (default): U_xi is the Euclidean ball of radius xi (Prop. 4.1 with
    d = Euclidean), so the N samples are uniform in that ball, in raw state units; ``gaussian``
    (s' + xi * N(0, I)) is offered as the looser reading of "noise of scale xi".
    Why reparameterized samples: E_{s^~T_psi} is estimated by s^ = s + mu_e + sigma_e * eps
    for every member e (``model_samples`` per member), so the loss is differentiable w.r.t.
    the model through Vbar's input; Vbar's own parameters are held fixed (detached), so only
    the model learns from this loss. The loss is summed over members (like the MLE loss).
    Why mask terminals: for a terminal s' the value target is 0 on both sides of Eq. 6 in
    the Bellman backup, so terminal rows carry no information and are left out.
    Why ``space: normalized`` (default): the paper does not say in which units the distance
    of U_xi is measured; ROMI is implemented on OfflineRL-Kit's RAMBO (App. D.2), whose
    ``run_rambo.py`` standardizes every observation with the dataset's mean and std
    (``real_buffer.normalize_obs()``) before the model, policy and critics see it, so the
    xi-ball of Table 4 lives in standardized units. Here the ball is drawn in those units
    and mapped back: s^ = s' + std * u, u uniform in the xi-ball (std: the dataset's
    per-dimension observation std), i.e. an axis-aligned ellipsoid in raw units, wide along
    high-variance dimensions (velocities) and narrow along positions. ``raw`` measures the
    ball in raw state units (Prop. 4.1 read literally on the env's observations).
    """

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("model",)

    type: Literal["robust_value_aware"] = "robust_value_aware"
    weight: float = Field(1.0, ge=0.0, description="multiplier of L_RVL when added to a model loss")
    xi: float = Field(1.0, ge=0.0, description="radius xi of U_xi(s') (ROMI Table 4)")
    samples: int = Field(10, ge=1, le=1024, description="N samples from U_xi(s') (ROMI Table 4)")
    noise: Literal["ball", "gaussian"] = Field(
        "ball", description="uniform in the xi-ball (Prop. 4.1), or s' + xi * N(0, I)"
    )
    space: Literal["normalized", "raw"] = Field(
        "normalized",
        description="units of the xi-ball: the dataset-standardized observations (RAMBO/ROMI "
        "code) or raw observations",
    )
    model_samples: int = Field(
        1, ge=1, le=64, description="reparameterized next-state samples per member and row"
    )
    value: Literal["target_critic", "critic"] = Field(
        "target_critic", description="Vbar from the target critics (Eq. 6) or the current ones"
    )
    mask_terminals: bool = Field(True, description="leave rows with terminal s' out of the loss")

    def build(self, ctx: BuildContext) -> Any:
        """The runtime :class:`RobustValueAware` aux loss."""
        from components.aux_losses._robust_value_aware import RobustValueAware

        return RobustValueAware(self, ctx)
