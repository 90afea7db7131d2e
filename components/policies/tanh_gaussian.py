"""Config of the ``tanh_gaussian`` policy (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["TanhGaussianConfig"]


class TanhGaussianConfig(ComponentConfig):
    """SAC's tanh-squashed diagonal Gaussian policy, scaled to the env's action box.

    SAC (Haarnoja et al. 2018), App. C Eq. 21: a = tanh(u), u ~ N(mu(s), sigma(s)), with
    log pi(a|s) = log N(u) - sum_i log(1 - tanh(u_i)^2); VIPO Table 4: FC(256, 256), ReLU.
    Why: log_std is hard-clamped to [log_std_min, log_std_max] (default [-5, 2], the range
    of OfflineRL-Kit's MOPO/MOBILE actors) so that the entropy bonus cannot blow the
    variance up nor collapse it to a point.
    """

    kind: ClassVar[str] = "policy"
    has_log_prob: ClassVar[bool] = True

    type: Literal["tanh_gaussian"] = "tanh_gaussian"
    hidden: list[int] = Field(
        default_factory=lambda: [256, 256], min_length=1, description="hidden layer widths"
    )
    activation: Literal["relu", "swish", "tanh", "elu", "gelu", "mish", "leaky_relu"] = Field(
        "relu", description="hidden activation"
    )
    log_std_min: float = Field(-5.0, description="lower clamp of log sigma")
    log_std_max: float = Field(2.0, description="upper clamp of log sigma")

    def build(self, ctx: Any) -> Any:
        """Make the policy network on ``ctx.device``."""
        from components.policies._tanh_gaussian import TanhGaussianPolicy

        return TanhGaussianPolicy(self, ctx)
