"""Config of the ``implicit`` policy (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["ImplicitPolicyConfig"]


class ImplicitPolicyConfig(ComponentConfig):
    """AMPL's implicit policy a = pi(s, z), z ~ N(0, I): a deterministic net fed with noise.

    AMPL Sec. 3.2: "given a noise distribution p_z(z), action a = pi_phi(s, z)
    with z ~ p_z, where pi_phi is a deterministic network"; it has no tractable density, so
    ``has_log_prob`` is False and the recipe schema rejects objectives that need log pi.
    Actions are tanh-squashed into the env's action box.
    Why z = 0 for ``deterministic``: evaluation needs one action per state; the noise
    mean is the natural point estimate (the paper does not say what it evaluates).
    """

    kind: ClassVar[str] = "policy"
    has_log_prob: ClassVar[bool] = False

    type: Literal["implicit"] = "implicit"
    noise_dim: int = Field(8, gt=0, description="dimension of z ~ N(0, I)")
    noise_std: float = Field(1.0, gt=0.0, description="standard deviation of z")
    hidden: list[int] = Field(
        default_factory=lambda: [256, 256], min_length=1, description="hidden layer widths"
    )
    activation: Literal["relu", "swish", "tanh", "elu", "gelu", "mish", "leaky_relu"] = Field(
        "relu", description="hidden activation"
    )

    def build(self, ctx: Any) -> Any:
        """Make the policy network on ``ctx.device``."""
        from components.policies._implicit import ImplicitPolicy

        return ImplicitPolicy(self, ctx)
