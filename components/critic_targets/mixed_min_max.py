"""Config of the ``mixed_min_max`` critic target (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["MixedMinMaxConfig"]


class MixedMinMaxConfig(ComponentConfig):
    """AMPL's conservative target y = r + gamma (c min_k Qbar_k + (1 - c) max_k Qbar_k), Huber loss.

    AMPL Sec. 3.4, Eq. 12-13: a' ~ pi_phi'(s'), c = 0.75, every critic regressed
    on the same y with the Huber loss. No entropy term (AMPL's policy is implicit).
    Why ``next_action: target_policy`` (default): Eq. 12 draws a' from the target policy
    pi_phi', a Polyak-averaged copy of the policy (soft-updated after every actor step with
    ``train.tau``, as the target critics are; the build adds it to the agent). ``policy``
    (a' from the current pi_phi, this component's former reading) stays available.
    Why ``huber_delta`` = 1: the usual Huber threshold (PyTorch's default
    ``smooth_l1``/``huber_loss``); the paper does not state its value.
    """

    kind: ClassVar[str] = "critic_target"
    needs_log_prob: ClassVar[bool] = False

    type: Literal["mixed_min_max"] = "mixed_min_max"
    c: float = Field(
        0.75, ge=0.0, le=1.0, description="weight of the min over target critics (Eq. 12)"
    )
    loss: Literal["huber", "mse"] = Field("huber", description="regression loss (Eq. 13: Huber)")
    huber_delta: float = Field(1.0, gt=0.0, description="Huber threshold")
    next_action: Literal["target_policy", "policy"] = Field(
        "target_policy",
        description="a' ~ pi_phi'(s') (Eq. 12, target policy) or the current pi(s')",
    )

    def build(self, ctx: Any) -> Any:
        """Make the critic target."""
        from components.critic_targets._mixed_min_max import MixedMinMaxTarget

        return MixedMinMaxTarget(self, ctx)
