"""Tiny real components for the RAMBO/ROMI tests: dynamics, policy, critics, data."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

OBS, ACT = 3, 2


@dataclass
class Setup:
    """Everything a RAMBO/ROMI component needs, built from the real configs."""

    ctx: Any
    dynamics: Any
    agent: Any
    data: Any


def make_setup(
    n: int = 64, dtype: torch.dtype = torch.float32, seed: int = 0, device: str = "cpu"
) -> Setup:
    """A 3-member dynamics, a tanh-Gaussian policy, 2 critics (+ targets) and n transitions."""
    from components.dynamics.gaussian_ensemble import GaussianEnsembleConfig
    from components.policies.tanh_gaussian import TanhGaussianConfig
    from compose.data.offline import OfflineData
    from compose.kinds import Agent, BuildContext
    from compose.nn.q_ensemble import QEnsemble

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, OBS, generator=g)
    actions = torch.rand(n, ACT, generator=g) * 2 - 1
    next_obs = obs + 0.1 * torch.randn(n, OBS, generator=g) + 0.05 * actions.sum(-1, keepdim=True)
    rewards = obs[:, 0] - actions.pow(2).sum(-1)
    terminals = torch.zeros(n)
    terminals[::7] = 1.0
    data = OfflineData(
        obs=obs,
        actions=actions,
        rewards=rewards,
        next_obs=next_obs,
        terminals=terminals,
        timeouts=torch.zeros(n),
        episode_starts=torch.zeros(n, dtype=torch.bool),
        info=None,
    )
    if device != "cpu":
        data = data.to(device)
    ctx = BuildContext(
        obs_dim=OBS,
        act_dim=ACT,
        action_low=-torch.ones(ACT),
        action_high=torch.ones(ACT),
        device=torch.device(device),
        data=data,
    )
    dyn_cfg = GaussianEnsembleConfig(
        members=3, elites=2, hidden=[8, 8], weight_decay=[1e-5, 1e-5, 1e-5]
    )
    dynamics = dyn_cfg.build(ctx).to(dtype)
    targets = torch.cat([next_obs - obs, rewards.unsqueeze(-1)], -1)
    dynamics.fit_normalizer(data.obs, data.actions, targets.to(device))
    policy = TanhGaussianConfig(hidden=[8]).build(ctx).to(dtype)
    critic = QEnsemble(OBS, ACT, hidden=[8], num_critics=2).to(device=device, dtype=dtype)
    target = copy.deepcopy(critic)
    with torch.no_grad():
        for p in target.parameters():
            p.add_(0.1 * torch.randn_like(p))
            p.requires_grad_(False)
    agent = Agent(
        policy=policy,
        critic=critic,
        target_critic=target,
        gamma=0.99,
        temperature=lambda: torch.zeros(()),
    )
    ctx.dynamics = dynamics
    ctx.agent = agent
    if dtype != torch.float32:
        data = OfflineData(
            **{
                k: getattr(data, k).to(dtype)
                if k not in ("episode_starts",)
                else data.episode_starts
                for k in (
                    "obs",
                    "actions",
                    "rewards",
                    "next_obs",
                    "terminals",
                    "timeouts",
                    "episode_starts",
                )
            },
            info=None,
        )
        ctx.data = data
    return Setup(ctx=ctx, dynamics=dynamics, agent=agent, data=data)
