"""Known termination functions done(s, a, s') for model rollouts, vectorized over a batch.

Reference: MBPO/MOPO ``static_fns`` (Janner et al. 2019), updated to Gymnasium MuJoCo v5's
``is_healthy`` (observations exclude the x position, so obs[0] is the torso height z and
obs[1] its angle). Velocities in v5 observations are clipped to [-10, 10], so Hopper's
|state| < 100 check can only be triggered by the positions in obs[1:5]; we apply it to all of
obs[1:] exactly as the env documents.
Why: model-based offline RL truncates imagined rollouts where the real env would end; using
the env's own rule (not a learned one) is what the MBRL literature does for these tasks.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from compose.envs.reference import ENV_IDS, short_env_name

TerminationFn = Callable[[Tensor, Tensor, Tensor], Tensor]


def _finite(next_obs: Tensor) -> Tensor:
    return torch.isfinite(next_obs).all(-1)


def hopper_termination(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """Hopper-v5: done unless z > 0.7, -0.2 < angle < 0.2, |obs[1:]| < 100 (strict)."""
    z, angle = next_obs[..., 0], next_obs[..., 1]
    healthy = (
        (z > 0.7)
        & (angle > -0.2)
        & (angle < 0.2)
        & (next_obs[..., 1:].abs() < 100.0).all(-1)
        & _finite(next_obs)
    )
    return ~healthy


def walker2d_termination(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """Walker2d-v5: done unless 0.8 < z < 2.0 and -1 < angle < 1 (strict)."""
    z, angle = next_obs[..., 0], next_obs[..., 1]
    healthy = (z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0) & _finite(next_obs)
    return ~healthy


def halfcheetah_termination(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """HalfCheetah-v5 never terminates (only the 1000-step time limit ends an episode)."""
    return torch.zeros(next_obs.shape[:-1], dtype=torch.bool, device=next_obs.device)


def inverted_pendulum_termination(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """InvertedPendulum-v5: done when |pole angle| = |obs[1]| > 0.2 or obs is not finite."""
    return (next_obs[..., 1].abs() > 0.2) | ~_finite(next_obs)


_FNS: dict[str, TerminationFn] = {
    "hopper": hopper_termination,
    "walker2d": walker2d_termination,
    "halfcheetah": halfcheetah_termination,
    "pendulum": inverted_pendulum_termination,
}


def termination_fn(env_id: str) -> TerminationFn:
    """The known termination function for a Gymnasium id (Hopper-v5) or short name (hopper)."""
    name = env_id if env_id in _FNS else short_env_name(env_id)
    if name is None or name not in _FNS:
        known = ", ".join(f"{n} ({ENV_IDS[n]})" for n in _FNS)
        raise ValueError(
            f"no known termination function for env {env_id!r}; known: {known}. "
            "Use a dynamics model that learns termination for other envs."
        )
    return _FNS[name]
