"""Shared helpers for the agent-side component tests: contexts, agents, a small dynamics."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor

from compose.kinds import Agent, BuildContext, Dynamics
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


def make_dynamics(ctx: BuildContext, members: int = 4, elites: int = 2) -> Dynamics:
    """A tiny ``gaussian_ensemble`` (random weights: enough for the agent-side tests)."""
    from components.dynamics.gaussian_ensemble import GaussianEnsembleConfig

    config = GaussianEnsembleConfig(
        members=members, elites=elites, hidden=[16, 16], weight_decay=[0.0, 0.0, 0.0]
    )
    return config.build(ctx)


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
    return Agent(
        policy=policy, critic=critic, target_critic=target, gamma=gamma, temperature=lambda: temp
    )


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


def critics_by_hand(critic, obs: torch.Tensor, act: torch.Tensor) -> list[torch.Tensor]:
    """Each critic of a QEnsemble as its own plain MLP on one [B] batch (a loop reference)."""
    layers = critic.net.linear_layers()
    out = []
    for k in range(critic.num_critics):
        h = torch.cat([obs, act], -1)
        for i, layer in enumerate(layers):
            h = h @ layer.weight[k] + layer.bias[k, 0]
            if i < len(layers) - 1:
                h = torch.relu(h)
        out.append(h.squeeze(-1))
    return out
