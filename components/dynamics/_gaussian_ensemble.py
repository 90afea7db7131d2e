"""``gaussian_ensemble``: MBPO/MOPO probabilistic ensemble over (delta s, r), vectorized.

Paper: MBPO (Janner et al. 2019) App. C; MOPO (Yu et al. 2020) Sec. 4.3, App. C.2.
Member i: (mu_i, log sigma_i^2) = f_i(normalize(s, a)) in normalized target space, with the
log-variance softly bounded (MBPO/PETS):
    logvar <- max_logvar - softplus(max_logvar - logvar)
    logvar <- min_logvar + softplus(logvar - min_logvar)
Raw predictions: mean = mu * t_std + t_mean, std = exp(logvar / 2) * t_std.
Why: every layer is one ``baddbmm`` over all members (compose.nn.EnsembleLinear); all
members' Gaussians are returned together, so uncertainty estimates need no second pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from compose.kinds import BuildContext, Dynamics, ModelTransitions, Prediction
from compose.nn import (
    EnsembleLinear,
    EnsembleMLP,
    EnsembleSpectralNorm,
    activate,
    activation,
    ensemble_linear,
    weight_decay_penalty,
)

__all__ = ["GaussianEnsemble"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class GaussianEnsemble(Dynamics):
    """N Gaussian MLPs as one vectorized network; elites; normalization buffers.

    Shapes: ``predict(obs [B, do] or [E, B, do], actions)`` -> :class:`Prediction` whose
    ``mean``/``std`` are [E, B, do + 1] (deltas then reward, raw units) and whose
    ``normalized_mean``/``logvar`` are [E, B, D] over the *learned* outputs
    (D = do + 1, or do when ``learn_reward`` is false).
    Without a learned reward, the reward column comes from the env's known reward
    ``ctx.reward`` (obs, act, next_obs) -> r (:mod:`compose.envs.rewards`) and has std 0;
    building such a model without ``ctx.reward`` is an error (it would train the agent on
    zero rewards).
    """

    def __init__(self, config: Any, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.members = int(config.members)
        self.obs_dim = int(ctx.obs_dim)
        self.act_dim = int(ctx.act_dim)
        self.learn_reward = bool(config.learn_reward)
        self.target_dim = self.obs_dim + (1 if self.learn_reward else 0)
        self.termination: Callable[[Tensor, Tensor, Tensor], Tensor] | None = ctx.termination
        self.reward_fn: Callable[[Tensor, Tensor, Tensor], Tensor] | None = ctx.reward
        if not self.learn_reward and self.reward_fn is None:
            from compose.envs.rewards import known_reward_envs

            raise ValueError(
                "dynamics.learn_reward: false needs the env's known reward r(s, a, s') "
                "(BuildContext.reward), and this env has none; envs with a known reward: "
                f"{known_reward_envs()}. Set dynamics.learn_reward: true for other envs."
            )
        in_dim = self.obs_dim + self.act_dim
        hidden = list(config.hidden)
        decays = list(config.weight_decay)
        # Trunk: in -> hidden[0] -> ... -> hidden[-1], activation after every layer.
        self.trunk = EnsembleMLP(
            in_dim,
            hidden[-1],
            hidden[:-1],
            self.members,
            config.activation,
            spectral_norm=config.spectral_norm,
            weight_decays=decays[:-1],
        )
        self.trunk_act = activation(config.activation)
        self.mean_head = EnsembleLinear(hidden[-1], self.target_dim, self.members, decays[-1])
        self.logvar_head = EnsembleLinear(hidden[-1], self.target_dim, self.members, decays[-1])
        if config.spectral_norm:
            # EnsembleMLP leaves its last layer free; MOPO normalizes the whole mean path.
            EnsembleSpectralNorm.apply(self.trunk.linear_layers()[-1])
            EnsembleSpectralNorm.apply(self.mean_head)
        self.max_logvar = nn.Parameter(
            torch.full((self.target_dim,), float(config.max_logvar_init))
        )
        self.min_logvar = nn.Parameter(
            torch.full((self.target_dim,), float(config.min_logvar_init))
        )
        self.logvar_bound_weight = float(config.logvar_bound_weight)
        self.register_buffer("input_mean", torch.zeros(in_dim))
        self.register_buffer("input_std", torch.ones(in_dim))
        self.register_buffer("target_mean", torch.zeros(self.target_dim))
        self.register_buffer("target_std", torch.ones(self.target_dim))
        self.register_buffer("elites", torch.arange(int(config.elites), dtype=torch.long))
        self.to(ctx.device)

    # ---------------------------------------------------------------- normalization
    @torch.no_grad()
    def fit_normalizer(self, obs: Tensor, actions: Tensor, targets: Tensor) -> None:
        """Set input (obs, act) and target (delta s, r) mean/std from data rows [N, .].

        Dimensions with std < 1e-12 get std 1 (constant inputs pass through unscaled).
        """
        inputs = torch.cat([obs, actions], dim=-1).to(self.input_mean)
        targets = targets[..., : self.target_dim].to(self.target_mean)
        for x, mean_buf, std_buf in (
            (inputs, self.input_mean, self.input_std),
            (targets, self.target_mean, self.target_std),
        ):
            mean = x.mean(0)
            std = x.std(0, correction=0)
            std = torch.where(std < 1e-12, torch.ones_like(std), std)
            mean_buf.copy_(mean)
            std_buf.copy_(std)

    def normalize_targets(self, targets: Tensor) -> Tensor:
        """Raw (delta s, r) [..., do + 1] -> normalized learned targets [..., D]."""
        return (targets[..., : self.target_dim] - self.target_mean) / self.target_std

    # ---------------------------------------------------------------- forward
    def forward_normalized(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, bounded logvar) in normalized target space: [E, B, D] each."""
        x = (torch.cat([obs, actions], dim=-1) - self.input_mean) / self.input_std
        h = activate(self.trunk_act, self.trunk(x))  # in place without a graph
        mean, logvar = self._heads(h)
        logvar = self.max_logvar - F.softplus(self.max_logvar - logvar)
        logvar = self.min_logvar + F.softplus(logvar - self.min_logvar)
        return mean, logvar

    def _heads(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, unbounded logvar) [E, B, D] each: both heads as ONE batched matmul.

        Why: the heads are narrow (D = 12 on hopper); two ``baddbmm`` of [E, B, 200] x
        [E, 200, D] and their backward (two input-gradient matmuls summed) cost about twice
        one of width 2D. The concatenated weight is [mean | logvar]; same sums per output,
        fp-rounding apart.
        """
        weight = torch.cat([self.mean_head.weight, self.logvar_head.weight], dim=-1)
        bias = torch.cat([self.mean_head.bias, self.logvar_head.bias], dim=-1)
        out = ensemble_linear(h, weight, bias)
        return out[..., : self.target_dim], out[..., self.target_dim :]

    def predict(self, obs: Tensor, actions: Tensor) -> Prediction:
        """All members' predictive Gaussians at (obs, actions); obs [B, do] or [E, B, do]."""
        mu, logvar = self.forward_normalized(obs, actions)
        mean = mu * self.target_std + self.target_mean
        std = torch.exp(0.5 * logvar) * self.target_std
        if not self.learn_reward:
            obs_e = obs.expand(mean.shape[0], *obs.shape[-2:]) if obs.dim() == 2 else obs
            act_e = (
                actions.expand(mean.shape[0], *actions.shape[-2:])
                if actions.dim() == 2
                else actions
            )
            reward = self._known_reward(obs_e, act_e, obs_e + mean)
            mean = torch.cat([mean, reward.unsqueeze(-1)], dim=-1)
            std = torch.cat([std, torch.zeros_like(reward).unsqueeze(-1)], dim=-1)
        return Prediction(mean=mean, std=std, normalized_mean=mu, logvar=logvar)

    def _known_reward(self, obs: Tensor, actions: Tensor, next_obs: Tensor) -> Tensor:
        return self.reward_fn(obs, actions, next_obs).to(next_obs.dtype)

    # ---------------------------------------------------------------- sampling
    def sample(self, obs: Tensor, actions: Tensor, deterministic: bool = False) -> ModelTransitions:
        """One model step per row from a uniformly random elite (torch's global RNG).

        ``deterministic=True`` uses the chosen elite's mean; otherwise mean + std * N(0, 1).
        Terminals come from ``ctx.termination`` (all False without one).
        """
        prediction = self.predict(obs, actions)
        batch = obs.shape[0]
        pick = torch.randint(self.elites.numel(), (batch,), device=obs.device)
        member = self.elites[pick]
        rows = torch.arange(batch, device=obs.device)
        mean = prediction.mean[member, rows]
        if deterministic:
            out = mean
        else:
            std = prediction.std[member, rows]
            out = mean + std * torch.randn_like(mean)
        next_obs = obs + out[:, : self.obs_dim]
        if self.learn_reward:
            rewards = out[:, -1]
        else:
            rewards = self._known_reward(obs, actions, next_obs)
        if self.termination is None:
            terminals = torch.zeros(batch, dtype=torch.bool, device=obs.device)
        else:
            terminals = self.termination(obs, actions, next_obs).to(torch.bool).reshape(batch)
        return ModelTransitions(
            obs=obs,
            actions=actions,
            next_obs=next_obs,
            rewards=rewards,
            terminals=terminals,
            member=member,
            prediction=prediction,
        )

    # ---------------------------------------------------------------- densities
    def log_prob(self, obs: Tensor, actions: Tensor, next_obs: Tensor, rewards: Tensor) -> Tensor:
        """log N((s' - s, r); mean_i, diag std_i^2) summed over learned dims: [E, B].

        Raw units (the change of variables from normalized space is a constant, -sum log
        t_std). Differentiable w.r.t. the parameters. Inputs [B, .] or [E, B, .].
        """
        pred = self.predict(obs, actions)
        target = torch.cat([next_obs - obs, rewards.unsqueeze(-1)], dim=-1)[..., : self.target_dim]
        mean = pred.mean[..., : self.target_dim]
        std = pred.std[..., : self.target_dim]
        z = (target - mean) / std
        return (-0.5 * z.pow(2) - torch.log(std) - _LOG_SQRT_2PI).sum(-1)

    # ---------------------------------------------------------------- elites, regularization
    @torch.no_grad()
    def set_elites(self, indices: Tensor) -> None:
        """Choose the elite members (sorted); the number of elites is fixed by the config."""
        indices = torch.as_tensor(indices, dtype=torch.long, device=self.elites.device).flatten()
        if indices.numel() != self.elites.numel():
            raise ValueError(f"expected {self.elites.numel()} elite indices, got {indices.numel()}")
        if indices.min() < 0 or indices.max() >= self.members:
            raise ValueError(
                f"elite indices must be in [0, {self.members}), got {indices.tolist()}"
            )
        self.elites.copy_(torch.sort(indices).values)

    def regularization(self, optimizer_decay: bool = False) -> Tensor:
        """Per-layer weight decay (MBPO schedule) + 0.01 (sum max_logvar - sum min_logvar).

        ``optimizer_decay=True`` leaves out the layers of :meth:`optimizer_weight_decay`.
        """
        layers = self.linear_layers()
        if optimizer_decay:
            layers = [m for m in layers if parametrize.is_parametrized(m, "weight")]
        decay = weight_decay_penalty([m.weight for m in layers], [m.weight_decay for m in layers])
        bounds = self.max_logvar.sum() - self.min_logvar.sum()
        return decay + self.logvar_bound_weight * bounds

    def optimizer_weight_decay(self) -> list[tuple[nn.Parameter, float]]:
        """Each plain layer weight with its decay; spectral-norm layers stay in the loss.

        Why those stay: their decay acts on the normalized weight W / sigma(W), not on the
        parameter the optimizer holds.
        """
        return [
            (m.weight, float(m.weight_decay))
            for m in self.linear_layers()
            if m.weight_decay and not parametrize.is_parametrized(m, "weight")
        ]

    def linear_layers(self) -> list[EnsembleLinear]:
        """Trunk layers then the mean and log-variance heads (for tests and inspection)."""
        return [*self.trunk.linear_layers(), self.mean_head, self.logvar_head]
