"""Known rewards r(s, a, s') against the Gymnasium v5 envs' own rewards.

Two sources of transitions: uniform-action rollouts of the real env (always run; the env's
``info`` splits the reward into its terms, so the exact terms are checked exactly and the
forward term against ``info["x_velocity"]``), and the factory datasets' medium transitions
(whose rewards are the env's; skipped when the dataset is not in the local Minari store).
The bounds are the residual of reading the mean x velocity of a step from the start and
end velocities (compose/envs/rewards.py says why it is not exact).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from compose.envs import reward_fn
from compose.envs.rewards import REWARD_ENVS, known_reward_envs


def _rollouts(env_id: str, steps: int, seed: int) -> dict[str, torch.Tensor]:
    """Uniform-action transitions with the env's reward and reward terms."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows: dict[str, list] = {k: [] for k in ("obs", "act", "nxt", "rew", "vel", "ctrl", "survive")}
    for _ in range(steps):
        act = env.action_space.sample()
        nxt, rew, term, trunc, info = env.step(act)
        for key, value in (
            ("obs", obs),
            ("act", act),
            ("nxt", nxt),
            ("rew", rew),
            ("vel", info.get("x_velocity", 0.0)),
            ("ctrl", info.get("reward_ctrl", 0.0)),
            ("survive", info.get("reward_survive", 0.0)),
        ):
            rows[key].append(value)
        obs = nxt
        if term or trunc:
            obs, _ = env.reset()
    env.close()
    return {k: torch.as_tensor(np.array(v), dtype=torch.float64) for k, v in rows.items()}


# (env, forward-velocity residual bound: max, mean) on uniform-action rollouts
_ENV_BOUNDS = [("Hopper-v5", 0.1, 0.005), ("Walker2d-v5", 0.3, 0.02), ("HalfCheetah-v5", 0.9, 0.2)]


@pytest.mark.parametrize(("env_id", "max_err", "mean_err"), _ENV_BOUNDS)
def test_reward_matches_env_rollouts(env_id: str, max_err: float, mean_err: float) -> None:
    t = _rollouts(env_id, 1000, seed=2)
    fn = reward_fn(env_id)
    r = fn(t["obs"], t["act"], t["nxt"])
    assert r.shape == (1000,) and r.dtype == torch.float64
    # The control cost and the healthy term are exact: with a zero-velocity pair of states
    # the function returns exactly survive + ctrl (obs and next_obs differ only in velocity).
    i = {"Hopper-v5": 5, "Walker2d-v5": 8, "HalfCheetah-v5": 8}[env_id]
    obs0, nxt0 = t["obs"].clone(), t["nxt"].clone()
    obs0[:, i], nxt0[:, i] = 0.0, 0.0
    torch.testing.assert_close(fn(obs0, t["act"], nxt0), t["survive"] + t["ctrl"])
    if env_id != "HalfCheetah-v5":
        assert (t["survive"] == 0).sum() >= 10  # unhealthy (terminal) steps are covered
    # The forward term: the env's (x_after - x_before) / dt against the velocities' mean.
    err = (r - t["rew"]).abs()
    torch.testing.assert_close(err, (r - t["survive"] - t["ctrl"] - t["vel"]).abs())
    assert err.max() < max_err and err.mean() < mean_err, (err.max(), err.mean())


# (env, max, mean residual) on the factory datasets' medium transitions
_DATA_BOUNDS = [("hopper", 0.15, 0.003), ("walker2d", 0.5, 0.01), ("halfcheetah", 1.2, 0.25)]


@pytest.mark.parametrize(("env", "max_err", "mean_err"), _DATA_BOUNDS)
def test_reward_matches_factory_dataset(env: str, max_err: float, mean_err: float) -> None:
    from compose.data import minari_io
    from compose.data.loading import load_minari

    dataset_id = f"compose/{env}/medium-v0"
    if not minari_io.is_local(dataset_id):
        pytest.skip(f"{dataset_id} not in the local store (compose data make {env} medium)")
    data = load_minari(dataset_id, download=False)
    r = reward_fn(data.info.env_id)(data.obs, data.actions, data.next_obs)
    err = (r - data.rewards).abs()
    assert err.max() < max_err and err.mean() < mean_err, (err.max(), err.mean())


def test_inverted_pendulum_reward_is_exact() -> None:
    t = _rollouts("InvertedPendulum-v5", 600, seed=4)
    r = reward_fn("InvertedPendulum-v5")(t["obs"], t["act"], t["nxt"])
    torch.testing.assert_close(r, t["rew"], rtol=0, atol=0)
    assert (t["rew"] == 0).sum() >= 10  # terminal steps (r = 0) are covered


def test_forward_weight_beats_either_endpoint() -> None:
    """HalfCheetah's 3/5 weight on v(s') fits its Euler substeps better than v(s') alone."""
    t = _rollouts("HalfCheetah-v5", 500, seed=3)
    est = reward_fn("halfcheetah")(t["obs"], t["act"], t["nxt"]) - t["ctrl"]
    only_next = t["nxt"][:, 8]
    assert (est - t["vel"]).abs().mean() < (only_next - t["vel"]).abs().mean()


def test_batch_dims_and_unknown_env() -> None:
    fn = reward_fn("hopper")
    obs, act = torch.zeros(2, 3, 11), torch.ones(2, 3, 3)
    nxt = obs.clone()
    nxt[..., 0] = 1.25  # healthy height
    nxt[..., 5] = 2.0  # x velocity at the end of the step
    nxt[1, 2, 1] = 0.5  # torso angle beyond 0.2: unhealthy
    r = fn(obs, act, nxt)
    assert r.shape == (2, 3)
    torch.testing.assert_close(r[0, 0], torch.tensor(1.0 + 1.0 - 3e-3))
    torch.testing.assert_close(r[1, 2], torch.tensor(1.0 - 3e-3))
    assert set(REWARD_ENVS) == {"hopper", "halfcheetah", "walker2d", "pendulum"}
    with pytest.raises(ValueError, match="no known reward function.*hopper \\(Hopper-v5\\)"):
        reward_fn("Ant-v5")
    assert "walker2d (Walker2d-v5)" in known_reward_envs()
