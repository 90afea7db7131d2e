"""The ``implicit`` policy: a = pi(s, z), z ~ N(0, I) (AMPL Sec. 3.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from compose.kinds import BuildContext, Policy, PolicySample
from compose.nn import MLP

if TYPE_CHECKING:
    from components.policies.implicit import ImplicitPolicyConfig

__all__ = ["ImplicitPolicy"]


class ImplicitPolicy(Policy):
    """MLP([s, z]) -> tanh -> the env's action box; ``log_prob`` is always None.

    Works on any leading batch dims ([..., obs_dim]); the noise is drawn per row.
    """

    def __init__(self, config: ImplicitPolicyConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.act_dim = ctx.act_dim
        self.noise_dim = config.noise_dim
        self.net = MLP(
            ctx.obs_dim + config.noise_dim, ctx.act_dim, config.hidden, config.activation
        )
        low = torch.as_tensor(ctx.action_low, dtype=torch.float32).reshape(ctx.act_dim)
        high = torch.as_tensor(ctx.action_high, dtype=torch.float32).reshape(ctx.act_dim)
        if not bool((high > low).all()):
            raise ValueError("implicit: action_high must exceed action_low in every dim")
        self.register_buffer("action_center", (high + low) / 2.0)
        self.register_buffer("action_half_range", (high - low) / 2.0)
        self.to(ctx.device)

    def forward(
        self, obs: Tensor, deterministic: bool = False, noise: Tensor | None = None
    ) -> PolicySample:
        """Actions pi(s, z) with z ~ N(0, noise_std^2 I) (z = 0 if deterministic, or ``noise``)."""
        if noise is None:
            shape = (*obs.shape[:-1], self.noise_dim)
            if deterministic:
                noise = obs.new_zeros(shape)
            else:
                noise = (
                    torch.randn(shape, device=obs.device, dtype=obs.dtype) * self.config.noise_std
                )
        raw = self.net(torch.cat([obs, noise], dim=-1))
        actions = self.action_center + self.action_half_range * torch.tanh(raw)
        return PolicySample(actions=actions, log_prob=None)

    def extra_repr(self) -> str:
        """Sizes for ``print(module)``."""
        return f"act_dim={self.act_dim}, noise_dim={self.noise_dim}"
