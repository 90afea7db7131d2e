"""Known reward functions r(s, a, s') for model rollouts, vectorized over a batch.

Reference: Gymnasium MuJoCo v5 ``_get_rew`` of Hopper, HalfCheetah and Walker2d (and
InvertedPendulum's r = 1[not terminated], which is exact):
    r = w_fwd * (x_after - x_before) / dt + healthy_reward * is_healthy(s') - w_ctrl * ||a||^2
with w_fwd = 1, healthy_reward = 1 (Hopper, Walker2d; HalfCheetah has none) and w_ctrl = 1e-3
(Hopper, Walker2d) or 0.1 (HalfCheetah). is_healthy is the negation of the env's termination
rule (:mod:`compose.envs.termination`), evaluated at s' as the env does after its step.
Why known rewards: ROMI assumes the reward function is known and predicts the next state
only (ROMI App. D.2, "as in Sun et al., 2023"); ``dynamics.learn_reward: false`` reads
these functions through ``BuildContext.reward``.

Why not exact: v5 observations exclude the x position, so the forward term
(x_after - x_before) / dt, the mean x velocity over the ``frame_skip`` simulator substeps of
one env step, cannot be read from (s, s'). What the observation holds is the root's
x velocity qvel[0] at the start (in s) and at the end (in s') of the step; we take
    v_fwd = (1 - w) v(s) + w v(s'),
the mean velocity under constant acceleration within the step: w = 1/2 for the RK4
integrator of Hopper and Walker2d (continuous time), w = 3/5 for HalfCheetah's semi-implicit
Euler with 5 substeps (x moves by h (v_1 + ... + v_5), with v_k = v_0 + k (v_5 - v_0) / 5).
The residual is therefore the non-constant part of the acceleration within one step:
small for Hopper and Walker2d (dt = 8 ms), larger for HalfCheetah (dt = 50 ms, contacts
change the acceleration within a step). Hopper's and Walker2d's observed velocities are also
clipped to [-10, 10], so the forward term is off wherever |qvel[0]| > 10. The control cost is
exact; the healthy term is exact (the same strict inequalities on s').
The tests (tests/envs/test_rewards.py) bound the residual against the env's own rewards on
dataset transitions.

Torch-free at import (only tensor methods are used), so the recipe validator can list the
envs with a known reward without importing torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from compose.envs.reference import ENV_IDS, short_env_name

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "REWARD_ENVS",
    "RewardFn",
    "halfcheetah_reward",
    "hopper_reward",
    "inverted_pendulum_reward",
    "known_reward_envs",
    "reward_fn",
    "walker2d_reward",
]

RewardFn = Callable[["Tensor", "Tensor", "Tensor"], "Tensor"]


@dataclass(frozen=True)
class _Terms:
    """One env's v5 reward constants and where its root x velocity sits in the observation."""

    velocity_index: int
    next_weight: float  # w in v_fwd = (1 - w) v(s) + w v(s')
    ctrl_cost_weight: float
    healthy_reward: float


_HOPPER = _Terms(velocity_index=5, next_weight=0.5, ctrl_cost_weight=1e-3, healthy_reward=1.0)
_HALFCHEETAH = _Terms(velocity_index=8, next_weight=0.6, ctrl_cost_weight=0.1, healthy_reward=0.0)
_WALKER2D = _Terms(velocity_index=8, next_weight=0.5, ctrl_cost_weight=1e-3, healthy_reward=1.0)


def _forward_minus_ctrl(terms: _Terms, obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    i, w = terms.velocity_index, terms.next_weight
    velocity = (1.0 - w) * obs[..., i] + w * next_obs[..., i]
    return velocity - terms.ctrl_cost_weight * act.pow(2).sum(-1)


def hopper_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """Hopper-v5: v_fwd + 1[healthy(s')] - 1e-3 ||a||^2; obs[5] is the root x velocity."""
    from compose.envs.termination import hopper_termination

    healthy = (~hopper_termination(obs, act, next_obs)).to(next_obs.dtype)
    return _forward_minus_ctrl(_HOPPER, obs, act, next_obs) + _HOPPER.healthy_reward * healthy


def walker2d_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """Walker2d-v5: v_fwd + 1[healthy(s')] - 1e-3 ||a||^2; obs[8] is the root x velocity."""
    from compose.envs.termination import walker2d_termination

    healthy = (~walker2d_termination(obs, act, next_obs)).to(next_obs.dtype)
    return _forward_minus_ctrl(_WALKER2D, obs, act, next_obs) + _WALKER2D.healthy_reward * healthy


def halfcheetah_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """HalfCheetah-v5: v_fwd - 0.1 ||a||^2 (no healthy term); obs[8] is the root x velocity."""
    return _forward_minus_ctrl(_HALFCHEETAH, obs, act, next_obs)


def inverted_pendulum_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """InvertedPendulum-v5: 1 while the pole is up after the step, else 0 (exact)."""
    from compose.envs.termination import inverted_pendulum_termination

    return (~inverted_pendulum_termination(obs, act, next_obs)).to(next_obs.dtype)


_FNS: dict[str, RewardFn] = {
    "hopper": hopper_reward,
    "halfcheetah": halfcheetah_reward,
    "walker2d": walker2d_reward,
    "pendulum": inverted_pendulum_reward,
}

#: Short names of the envs with a known reward function.
REWARD_ENVS: tuple[str, ...] = tuple(_FNS)


def known_reward_envs() -> str:
    """'hopper (Hopper-v5), ...': the envs with a known reward, for error messages."""
    return ", ".join(f"{n} ({ENV_IDS[n]})" for n in _FNS)


def reward_fn(env_id: str) -> RewardFn:
    """The known reward function for a Gymnasium id (Hopper-v5) or short name (hopper)."""
    name = env_id if env_id in _FNS else short_env_name(env_id)
    if name is None or name not in _FNS:
        raise ValueError(
            f"no known reward function for env {env_id!r}; known: {known_reward_envs()}. "
            "Use dynamics.learn_reward: true (the model predicts r) for other envs."
        )
    return _FNS[name]
