"""Helpers for the VIPO tests: a hand-made BuildContext, a tiny ensemble, linear-system data."""

from __future__ import annotations

from typing import Any

import torch

from compose.kinds import Batch, BuildContext
from tests.helpers.tiny import make_ctx as _make_ctx
from tests.helpers.tiny import tiny_ensemble

__all__ = ["fit_normalizer", "linear_batch", "make_ctx", "tiny_ensemble"]


def make_ctx(obs_dim: int = 3, act_dim: int = 2, gamma: float = 0.9, **kwargs: Any) -> BuildContext:
    """A hand-made BuildContext on CPU (gamma 0.9 by default in the VIPO tests)."""
    return _make_ctx(obs_dim, act_dim, gamma, **kwargs)


def linear_batch(n: int, obs_dim: int = 3, act_dim: int = 2, seed: int = 0) -> Batch:
    """Transitions of s' = s + A s + B a + noise, r = c.s + d.a + noise."""
    g = torch.Generator().manual_seed(seed)
    dtype = torch.get_default_dtype()
    a_mat = 0.1 * torch.randn(obs_dim, obs_dim, generator=g, dtype=dtype)
    b_mat = 0.5 * torch.randn(act_dim, obs_dim, generator=g, dtype=dtype)
    c = torch.randn(obs_dim, generator=g, dtype=dtype)
    d = torch.randn(act_dim, generator=g, dtype=dtype)
    obs = torch.randn(n, obs_dim, generator=g, dtype=dtype)
    act = torch.rand(n, act_dim, generator=g, dtype=dtype) * 2 - 1
    delta = obs @ a_mat + act @ b_mat + 0.05 * torch.randn(n, obs_dim, generator=g, dtype=dtype)
    rewards = obs @ c + act @ d + 0.05 * torch.randn(n, generator=g, dtype=dtype)
    return Batch(
        obs=obs,
        actions=act,
        rewards=rewards,
        next_obs=obs + delta,
        terminals=torch.zeros(n, dtype=dtype),
    )


def fit_normalizer(dynamics: Any, batch: Batch) -> None:
    """Fit the dynamics' normalizers on a batch (targets = [delta s, r])."""
    targets = torch.cat([batch.next_obs - batch.obs, batch.rewards.unsqueeze(-1)], dim=-1)
    dynamics.fit_normalizer(batch.obs, batch.actions, targets)
