"""The ``tanh_gaussian`` policy: SAC's squashed Gaussian actor (SAC App. C, Eq. 21)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from compose.kinds import BuildContext, Policy, PolicySample
from compose.nn import MLP, tanh_normal_log_prob, tanh_normal_sample

if TYPE_CHECKING:
    from components.policies.tanh_gaussian import TanhGaussianConfig

__all__ = ["TanhGaussianPolicy"]


class TanhGaussianPolicy(Policy):
    """pi(a|s): MLP trunk -> (mean, log_std) -> a = low + (tanh(u) + 1)/2 (high - low).

    ``log_prob`` is the density of the returned (scaled) action: the tanh correction of
    SAC Eq. 21 plus the constant -sum_i log((high_i - low_i) / 2) of the affine scaling
    (zero for the usual [-1, 1] boxes of MuJoCo locomotion).
    Works on any leading batch dims ([..., obs_dim]), e.g. MOBILE's [E, N, B, obs_dim].
    """

    def __init__(self, config: TanhGaussianConfig, ctx: BuildContext) -> None:
        super().__init__()
        if config.log_std_min >= config.log_std_max:
            raise ValueError("tanh_gaussian: log_std_min must be < log_std_max")
        self.config = config
        self.act_dim = ctx.act_dim
        self.trunk = MLP(ctx.obs_dim, 2 * ctx.act_dim, config.hidden, config.activation)
        low = torch.as_tensor(ctx.action_low, dtype=torch.float32).reshape(ctx.act_dim)
        high = torch.as_tensor(ctx.action_high, dtype=torch.float32).reshape(ctx.act_dim)
        if not bool((high > low).all()):
            raise ValueError("tanh_gaussian: action_high must exceed action_low in every dim")
        half = (high - low) / 2.0
        self.register_buffer("action_center", (high + low) / 2.0)
        self.register_buffer("action_half_range", half)
        # log|da/dtanh(u)| summed over dims: a constant of the affine map.
        self.register_buffer("log_scale", torch.log(half).sum())
        self.to(ctx.device)

    def dist_params(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """(mean, log_std) of the pre-tanh Gaussian, log_std clamped to the configured range."""
        mean, log_std = self.trunk(obs).chunk(2, dim=-1)
        log_std = log_std.clamp(self.config.log_std_min, self.config.log_std_max)
        return mean, log_std

    def squash(self, pre_tanh: Tensor) -> Tensor:
        """Map pre-tanh values u to env actions center + half_range * tanh(u)."""
        return self.action_center + self.action_half_range * torch.tanh(pre_tanh)

    def forward(self, obs: Tensor, deterministic: bool = False) -> PolicySample:
        """Reparameterized sample (or tanh(mean) if deterministic) with log pi(a|s)."""
        mean, log_std = self.dist_params(obs)
        sample = tanh_normal_sample(mean, log_std, deterministic=deterministic)
        actions = self.action_center + self.action_half_range * sample.action
        return PolicySample(actions=actions, log_prob=sample.log_prob - self.log_scale)

    def log_prob(self, obs: Tensor, actions: Tensor) -> Tensor:
        """log pi(a|s) of given env actions (e.g. dataset actions for behavior cloning).

        The action is mapped back to (-1, 1) and clipped just inside it, so dataset actions on
        the box boundary keep a finite density.
        """
        mean, log_std = self.dist_params(obs)
        unit = (actions - self.action_center) / self.action_half_range
        return tanh_normal_log_prob(unit, mean, log_std) - self.log_scale

    def extra_repr(self) -> str:
        """Sizes for ``print(module)``."""
        return f"act_dim={self.act_dim}, log_std=[{self.config.log_std_min}, {self.config.log_std_max}]"
