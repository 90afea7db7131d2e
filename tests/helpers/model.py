"""Shared helpers for the model-side component tests: hand-made BuildContexts and data."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch

from compose.kinds import BuildContext
from tests.helpers.tiny import make_ctx, tiny_ensemble

__all__ = [
    "MODEL_CONFIG_MODULES",
    "gaussian_ensemble",
    "linear_system",
    "make_ctx",
    "model_registry",
]

torch.set_num_threads(1)  # the machine is shared; tiny tests gain nothing from threads


def gaussian_ensemble(ctx: BuildContext, **overrides: Any) -> Any:
    """A tiny gaussian_ensemble (4 members, 2 elites, 2x16) built from its config."""
    return tiny_ensemble(ctx, **{"members": 4, "hidden": [16, 16], **overrides})


def linear_system(
    n: int, obs_dim: int = 3, act_dim: int = 2, noise: float = 0.01, seed: int = 0
) -> SimpleNamespace:
    """Data from s' = s + A s + B a + noise, r = c.s + d.a (an OfflineData-like namespace)."""
    g = torch.Generator().manual_seed(seed)
    a_mat = 0.1 * torch.randn(obs_dim, obs_dim, generator=g)
    b_mat = 0.5 * torch.randn(act_dim, obs_dim, generator=g)
    c = torch.randn(obs_dim, generator=g)
    d = torch.randn(act_dim, generator=g)
    obs = torch.randn(n, obs_dim, generator=g)
    act = torch.rand(n, act_dim, generator=g) * 2 - 1
    delta = obs @ a_mat + act @ b_mat + noise * torch.randn(n, obs_dim, generator=g)
    rewards = obs @ c + act @ d + noise * torch.randn(n, generator=g)
    zeros = torch.zeros(n)
    return SimpleNamespace(
        obs=obs,
        actions=act,
        rewards=rewards,
        next_obs=obs + delta,
        terminals=zeros,
        timeouts=zeros,
    )


MODEL_CONFIG_MODULES = (
    "dynamics.gaussian_ensemble",
    "model_learners.mle",
    "uncertainty.max_aleatoric",
    "uncertainty.ensemble_std",
    "reward_shapers.none",
    "reward_shapers.uncertainty_penalty",
)


def model_registry(*extra: Any) -> Any:
    """An isolated, finalized registry holding only the model-side built-ins (and ``extra``).

    Why: other components are written concurrently; these tests must not depend on them.
    """
    from components.plugin import configs_in
    from compose.registry import Registry

    registry = Registry()
    with registry.origin("compose-rl"):
        for name in MODEL_CONFIG_MODULES:
            for config in configs_in(f"components.{name}"):
                registry.add(config)
    with registry.origin("tests"):
        for config in extra:
            registry.add(config)
    registry.finalize()
    return registry
