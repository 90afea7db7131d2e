"""The one tiny-ensemble builder of the component tests (model, vipo, speed tests use it).

``make_ctx`` builds a BuildContext by hand (as in a notebook, on CPU); ``tiny_ensemble``
builds a small ``gaussian_ensemble`` from its config. Import as
``from tests.helpers.tiny import make_ctx, tiny_ensemble`` (the repository root is on
pytest's path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from compose.kinds import BuildContext

__all__ = ["make_ctx", "tiny_ensemble"]


def make_ctx(
    obs_dim: int = 3,
    act_dim: int = 2,
    gamma: float = 0.99,
    termination: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    reward: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    seed: int | None = None,
) -> BuildContext:
    """A BuildContext on CPU with actions in [-1, 1]; ``reward``: a known r(s, a, s');
    ``seed``: the seed components derive their own generators from."""
    return BuildContext(
        obs_dim=obs_dim,
        act_dim=act_dim,
        action_low=-torch.ones(act_dim),
        action_high=torch.ones(act_dim),
        device=torch.device("cpu"),
        gamma=gamma,
        termination=termination,
        reward=reward,
        seed=seed,
    )


def tiny_ensemble(
    ctx: BuildContext,
    members: int = 3,
    elites: int = 2,
    hidden: Sequence[int] = (8, 8),
    **overrides: Any,
) -> Any:
    """A tiny ``gaussian_ensemble`` (weight decay 1e-5 per layer) built from its config."""
    from components.dynamics.gaussian_ensemble import GaussianEnsembleConfig

    fields: dict[str, Any] = {
        "members": members,
        "elites": elites,
        "hidden": list(hidden),
        "weight_decay": [1e-5] * (len(hidden) + 1),
    }
    fields.update(overrides)
    return GaussianEnsembleConfig(**fields).build(ctx)
