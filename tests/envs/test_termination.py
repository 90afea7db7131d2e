"""Termination functions agree with the Gymnasium v5 envs' own ``terminated`` on real rollouts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from compose.envs import termination_fn


def _rollouts(env_id: str, steps: int, seed: int) -> tuple[np.ndarray, ...]:
    """Uniform-action transitions with the env's terminated flags (many terminal ones)."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]] = []
    for _ in range(steps):
        act = env.action_space.sample()
        nxt, _, term, trunc, _ = env.step(act)
        rows.append((obs, act, nxt, term))
        obs = nxt
        if term or trunc:
            obs, _ = env.reset()
    env.close()
    o, a, n, t = zip(*rows, strict=True)
    return np.array(o), np.array(a), np.array(n), np.array(t)


@pytest.mark.parametrize(
    ("env_id", "steps"),
    [
        ("Hopper-v5", 1500),
        ("Walker2d-v5", 1500),
        ("InvertedPendulum-v5", 600),
        ("HalfCheetah-v5", 300),
    ],
)
def test_termination_matches_env(env_id: str, steps: int) -> None:
    obs, act, nxt, term = _rollouts(env_id, steps, seed=1)
    done = termination_fn(env_id)(
        torch.as_tensor(obs, dtype=torch.float32),
        torch.as_tensor(act, dtype=torch.float32),
        torch.as_tensor(nxt, dtype=torch.float32),
    )
    assert done.dtype == torch.bool and done.shape == (steps,)
    np.testing.assert_array_equal(done.numpy(), term)
    if env_id != "HalfCheetah-v5":
        assert term.sum() >= 10  # the comparison covers terminal states, not only healthy ones


def test_termination_by_short_name_and_batch_dims() -> None:
    fn = termination_fn("hopper")
    nxt = torch.zeros(2, 3, 11)
    nxt[..., 0] = 1.25
    assert not fn(nxt, torch.zeros(2, 3, 3), nxt).any()
    nxt[1, 2, 1] = 0.3  # torso angle beyond 0.2
    nxt[0, 0, 5] = float("nan")
    assert fn(nxt, torch.zeros(2, 3, 3), nxt).tolist() == [
        [True, False, False],
        [False, False, True],
    ]


def test_unknown_env() -> None:
    with pytest.raises(ValueError, match="no known termination function for env 'Ant-v5'"):
        termination_fn("Ant-v5")
