"""``robust_value_aware``: ROMI's L_RVL (ROMI Eq. 6), differentiable w.r.t. the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from compose.kinds import Agent, AuxLoss, BuildContext, Dynamics, UpdateInputs

if TYPE_CHECKING:
    from components.aux_losses.robust_value_aware import RobustValueAwareConfig

__all__ = ["RobustValueAware", "ball_noise", "frozen_call", "state_value"]


def frozen_call(module: Any, *args: Any) -> Any:
    """Call ``module`` with its parameters detached: gradients reach the inputs only.

    Why: the loss must move the model, never the policy or critics, and must not leave
    stale ``.grad`` on them; ``functional_call`` with detached tensors does both without
    mutating ``requires_grad`` flags of networks other components own.
    """
    if not isinstance(module, nn.Module):
        return module(*args)
    params = {k: v.detach() for k, v in module.named_parameters()}
    return functional_call(module, params, args)


def state_value(agent: Agent, obs: Tensor, critic: Any) -> Tensor:
    """V(s) = min_k Q_k(s, a), a ~ pi(s) (one sample): obs [..., do] -> [...], input-differentiable."""
    actions = frozen_call(agent.policy, obs).actions
    return frozen_call(critic, obs, actions).min(0).values


def ball_noise(shape: tuple[int, ...], radius: float, device: Any, dtype: Any) -> Tensor:
    """Uniform samples in the Euclidean ball of ``radius`` in R^d (d = shape[-1])."""
    d = shape[-1]
    direction = torch.nn.functional.normalize(
        torch.randn(shape, device=device, dtype=dtype), dim=-1
    )
    r = torch.rand((*shape[:-1], 1), device=device, dtype=dtype).pow(1.0 / d)
    return direction * r * radius


class RobustValueAware(AuxLoss):
    """L_RVL of Eq. 6, summed over ensemble members; ``loss_robust_value_aware`` = weight * L.

    Needs ``inputs.agent`` (policy + critics) and ``inputs.dynamics``; contributes nothing
    without an agent (model pretraining). :meth:`terms` takes the noise explicitly (tests,
    reproducible analyses); :meth:`loss` draws it.
    Diagnostics: ``model_value`` (E Vbar(s^)), ``robust_target`` (min_i Vbar(s'_i)),
    ``data_value`` (Vbar(s')), ``value_gap`` (data_value - robust_target: the conservatism).
    """

    def __init__(self, config: RobustValueAwareConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.weight = float(config.weight)
        self.xi = float(config.xi)
        self.samples = int(config.samples)
        self.model_samples = int(config.model_samples)
        # Per-dimension scale of the xi-ball in raw units: the dataset's observation std
        # (``space: normalized``) or 1 (``raw``). Derived from the data at build, not saved.
        scale = torch.ones(ctx.obs_dim)
        if config.space == "normalized":
            if ctx.data is None or not hasattr(ctx.data, "stats"):
                raise ValueError(
                    "aux loss 'robust_value_aware': space 'normalized' measures U_xi in units "
                    "of the dataset's observation std, but the build context has no dataset "
                    "(ctx.data); pass one, or set space: raw"
                )
            scale = ctx.data.stats().obs_std.detach().float().cpu()
        self.register_buffer("state_scale", scale.to(ctx.device), persistent=False)

    def draw_noise(self, dynamics: Dynamics, obs: Tensor) -> tuple[Tensor, Tensor]:
        """(model_noise [M, E, B, do] ~ N(0, I), state_noise [N, B, do] in U_xi(0), raw units).

        ``space: normalized``: the ball (or Gaussian) is drawn in standardized units and
        multiplied by the dataset's per-dimension observation std.
        """
        e, (b, do) = dynamics.members, obs.shape
        model_noise = torch.randn(
            (self.model_samples, e, b, do), device=obs.device, dtype=obs.dtype
        )
        shape = (self.samples, b, do)
        if self.config.noise == "ball":
            state_noise = ball_noise(shape, self.xi, obs.device, obs.dtype)
        else:
            state_noise = self.xi * torch.randn(shape, device=obs.device, dtype=obs.dtype)
        return model_noise, state_noise * self.state_scale.to(obs.dtype)

    def loss(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """Eq. 6 on ``inputs.real`` with fresh noise (empty without an agent)."""
        agent, dynamics = inputs.agent, inputs.dynamics
        if agent is None or dynamics is None:
            return {}
        real = inputs.real
        model_noise, state_noise = self.draw_noise(dynamics, real.obs)
        return self.terms(
            real.obs,
            real.actions,
            real.next_obs,
            real.terminals,
            dynamics=dynamics,
            agent=agent,
            model_noise=model_noise,
            state_noise=state_noise,
        )

    def terms(
        self,
        obs: Tensor,
        actions: Tensor,
        next_obs: Tensor,
        terminals: Tensor,
        *,
        dynamics: Dynamics,
        agent: Agent,
        model_noise: Tensor,
        state_noise: Tensor,
    ) -> dict[str, Tensor]:
        """Eq. 6 with given noise: model_noise [M, E, B, do], state_noise [N, B, do]."""
        critic = agent.target_critic if self.config.value == "target_critic" else agent.critic
        do = obs.shape[-1]
        pred = dynamics.predict(obs, actions)
        # s^ = s + mu_e(s, a) + sigma_e(s, a) * eps: reparameterized, [M, E, B, do].
        s_hat = obs + pred.mean[..., :do] + pred.std[..., :do] * model_noise
        model_value = state_value(agent, s_hat, critic).mean(0)  # [E, B]
        with torch.no_grad():
            perturbed = next_obs.unsqueeze(0) + state_noise  # [N, B, do]
            target = state_value(agent, perturbed, critic).min(0).values  # [B]
            data_value = state_value(agent, next_obs, critic)
        if self.config.mask_terminals:
            mask = 1.0 - terminals.to(obs.dtype).reshape(-1)
        else:
            mask = torch.ones_like(target)
        n = mask.sum().clamp_min(1.0)
        sq = (model_value - target.unsqueeze(0)).pow(2) * mask  # [E, B]
        rvl = sq.sum(-1).div(n).sum()
        return {
            "loss_robust_value_aware": self.weight * rvl,
            "rvl": rvl.detach(),
            "model_value": ((model_value.detach() * mask).sum(-1) / n).mean(),
            "robust_target": (target * mask).sum() / n,
            "data_value": (data_value * mask).sum() / n,
            "value_gap": ((data_value - target) * mask).sum() / n,
        }
