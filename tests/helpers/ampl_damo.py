"""Shared helpers for the AMPL / DAMO / COMBO component tests: contexts, agents, toy data."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from compose.kinds import Agent, Batch, BuildContext
from compose.nn.q_ensemble import QEnsemble


def make_ctx(
    obs_dim: int = 3, act_dim: int = 2, data: Any = None, dynamics: Any = None
) -> BuildContext:
    """A BuildContext built by hand, actions in [-1, 1]."""
    return BuildContext(
        obs_dim=obs_dim,
        act_dim=act_dim,
        action_low=-torch.ones(act_dim),
        action_high=torch.ones(act_dim),
        device=torch.device("cpu"),
        gamma=0.9,
        data=data,
        dynamics=dynamics,
    )


def make_agent(
    ctx: BuildContext, policy: Any = None, alpha: float = 0.1, gamma: float = 0.9
) -> Agent:
    """tanh_gaussian policy (unless given), K = 2 critics and a perturbed target copy."""
    from components.policies.tanh_gaussian import TanhGaussianConfig

    if policy is None:
        policy = TanhGaussianConfig(hidden=[16, 16]).build(ctx)
    critic = QEnsemble(ctx.obs_dim, ctx.act_dim, hidden=(16, 16), num_critics=2)
    target = copy.deepcopy(critic)
    with torch.no_grad():
        for p in target.parameters():
            p.add_(0.05 * torch.randn_like(p))
    temp = torch.tensor(alpha)
    return Agent(
        policy=policy, critic=critic, target_critic=target, gamma=gamma, temperature=lambda: temp
    )


def make_batch(n: int, obs_dim: int = 3, act_dim: int = 2, seed: int = 0) -> Batch:
    """Random transitions, ~30% terminal."""
    g = torch.Generator().manual_seed(seed)
    return Batch(
        obs=torch.randn(n, obs_dim, generator=g),
        actions=torch.rand(n, act_dim, generator=g) * 2 - 1,
        rewards=torch.randn(n, generator=g),
        next_obs=torch.randn(n, obs_dim, generator=g),
        terminals=(torch.rand(n, generator=g) < 0.3).float(),
    )


@dataclass
class _Stats:
    obs_mean: Tensor
    obs_std: Tensor


@dataclass
class ToyData:
    """The OfflineData surface the components use: tensors, initial_obs(), stats()."""

    obs: Tensor
    actions: Tensor
    rewards: Tensor
    next_obs: Tensor
    terminals: Tensor
    episode_starts: Tensor

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    def initial_obs(self) -> Tensor:
        return self.obs[self.episode_starts]

    def stats(self) -> _Stats:
        return _Stats(self.obs.mean(0), self.obs.std(0).clamp_min(1e-6))


def make_data(n: int = 400, obs_dim: int = 3, act_dim: int = 2, seed: int = 0) -> ToyData:
    """Smooth toy dynamics s' = 0.9 s + 0.1 [a, 0..], r = -|s|^2; an episode every 50 rows."""
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, obs_dim, generator=g)
    act = torch.rand(n, act_dim, generator=g) * 2 - 1
    pad = torch.zeros(n, max(obs_dim - act_dim, 0))
    nxt = 0.9 * obs + 0.1 * torch.cat([act, pad], dim=1)[:, :obs_dim]
    starts = torch.zeros(n, dtype=torch.bool)
    starts[::50] = True
    return ToyData(obs, act, -(obs**2).sum(1), nxt, torch.zeros(n), starts)
