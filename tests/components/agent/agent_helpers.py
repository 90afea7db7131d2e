"""Shared helpers for the agent-side component tests: contexts, agents, a small dynamics."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from compose.kinds import Agent, BuildContext, Dynamics, ModelTransitions, Prediction
from compose.nn.q_ensemble import QEnsemble


def make_ctx(
    obs_dim: int = 3,
    act_dim: int = 2,
    low: Tensor | None = None,
    high: Tensor | None = None,
    dynamics: Dynamics | None = None,
) -> BuildContext:
    """A BuildContext built by hand (as in a notebook)."""
    return BuildContext(
        obs_dim=obs_dim,
        act_dim=act_dim,
        action_low=-torch.ones(act_dim) if low is None else low,
        action_high=torch.ones(act_dim) if high is None else high,
        device=torch.device("cpu"),
        dynamics=dynamics,
    )


class LinearGaussianDynamics(Dynamics):
    """A tiny stand-in ensemble: member e predicts N(W_e [s, a] + b_e, softplus(V_e [s, a]))."""

    def __init__(self, obs_dim: int, act_dim: int, members: int = 4, elites: int = 2) -> None:
        super().__init__()
        self.members, self.obs_dim, self.act_dim = members, obs_dim, act_dim
        g = torch.Generator().manual_seed(123)
        d_in, d_out = obs_dim + act_dim, obs_dim + 1
        self.w = nn.Parameter(0.3 * torch.randn(members, d_in, d_out, generator=g))
        self.b = nn.Parameter(0.1 * torch.randn(members, 1, d_out, generator=g))
        self.v = nn.Parameter(0.3 * torch.randn(members, d_in, d_out, generator=g))
        self.register_buffer("elites", torch.arange(elites))

    def fit_normalizer(self, obs: Tensor, actions: Tensor, targets: Tensor) -> None:
        """Nothing to fit."""

    def predict(self, obs: Tensor, actions: Tensor) -> Prediction:
        """All members' Gaussians over (delta s, r)."""
        x = torch.cat([obs, actions], -1)
        mean = torch.einsum("bi,eio->ebo", x, self.w) + self.b
        std = nn.functional.softplus(torch.einsum("bi,eio->ebo", x, self.v)) + 0.05
        return Prediction(mean=mean, std=std, normalized_mean=mean, logvar=2 * std.log())

    def sample(self, obs: Tensor, actions: Tensor, deterministic: bool = False) -> ModelTransitions:
        """Not needed by these tests."""
        raise NotImplementedError

    def log_prob(self, obs: Tensor, actions: Tensor, next_obs: Tensor, rewards: Tensor) -> Tensor:
        """Not needed by these tests."""
        raise NotImplementedError

    def set_elites(self, indices: Tensor) -> None:
        """Choose the elites."""
        self.elites = indices


def make_agent(
    ctx: BuildContext, alpha: float = 0.2, gamma: float = 0.9, hidden: tuple[int, ...] = (16, 16)
) -> Agent:
    """Policy, critics (K = 2) and a perturbed target copy, built the way the trainer does."""
    from components.policies.tanh_gaussian import TanhGaussianConfig

    policy = TanhGaussianConfig(hidden=list(hidden)).build(ctx)
    critic = QEnsemble(ctx.obs_dim, ctx.act_dim, hidden=hidden, num_critics=2)
    target = copy.deepcopy(critic)
    with torch.no_grad():
        for p in target.parameters():
            p.add_(0.05 * torch.randn_like(p))
    temp = torch.tensor(alpha)
    return Agent(policy=policy, critic=critic, target_critic=target, gamma=gamma,
                 temperature=lambda: temp)


def make_batch(n: int, ctx: BuildContext, n_model: int = 0, seed: int = 0) -> Any:
    """A Batch with ``n`` real rows then ``n_model`` model rows (Batch.cat layout)."""
    from compose.kinds import Batch

    g = torch.Generator().manual_seed(seed)

    def part(m: int) -> Batch:
        return Batch(
            obs=torch.randn(m, ctx.obs_dim, generator=g),
            actions=torch.rand(m, ctx.act_dim, generator=g) * 2 - 1,
            rewards=torch.randn(m, generator=g),
            next_obs=torch.randn(m, ctx.obs_dim, generator=g),
            terminals=(torch.rand(m, generator=g) < 0.3).float(),
        )

    real = part(n)
    if n_model == 0:
        return real, None, real
    model = part(n_model)
    return real, model, Batch.cat(real, model)
