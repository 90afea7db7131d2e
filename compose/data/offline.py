"""``OfflineData``: the one in-memory form of a dataset for training (torch tensors).

Why: every source ends in :func:`offline_data_from_arrays`, which validates the arrays against
the env's spaces and wraps them zero-copy (``torch.from_numpy``), so 2M transitions load in
seconds and every loader gets the same checks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor

from compose.data.arrays import TransitionArrays, validate_arrays
from compose.data.info import DatasetInfo


@dataclass(frozen=True)
class DataStats:
    """Per-dimension statistics: observations, deltas s' - s, rewards (std floored at 1e-6)."""

    obs_mean: Tensor
    obs_std: Tensor
    delta_mean: Tensor
    delta_std: Tensor
    reward_mean: Tensor
    reward_std: Tensor


@dataclass(frozen=True, eq=False)
class OfflineData:
    """Transitions as float32 tensors: obs [N,do], actions [N,da], rewards [N], next_obs [N,do],
    terminals [N], timeouts [N] (0/1), episode_starts [N] (bool), and ``info``."""

    obs: Tensor
    actions: Tensor
    rewards: Tensor
    next_obs: Tensor
    terminals: Tensor
    timeouts: Tensor
    episode_starts: Tensor
    info: DatasetInfo

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def device(self) -> torch.device:
        """Device of the tensors."""
        return self.obs.device

    def to(self, device: torch.device | str) -> OfflineData:
        """A copy on ``device`` (statistics are recomputed lazily there)."""
        tensors = {
            f.name: getattr(self, f.name).to(device)
            for f in dataclasses.fields(self)
            if f.name != "info"
        }
        return OfflineData(**tensors, info=self.info)

    @cached_property
    def _stats(self) -> DataStats:
        delta = self.next_obs - self.obs

        def ms(x: Tensor) -> tuple[Tensor, Tensor]:
            return x.mean(0), x.std(0).clamp_min(1e-6)

        om, os_ = ms(self.obs)
        dm, ds = ms(delta)
        rm, rs = ms(self.rewards)
        return DataStats(om, os_, dm, ds, rm, rs)

    def stats(self) -> DataStats:
        """Per-dimension mean and std of obs, s' - s and rewards (computed once, cached)."""
        return self._stats

    def initial_obs(self) -> Tensor:
        """Observations at episode starts [n_episodes, do] (the initial-state distribution)."""
        return self.obs[self.episode_starts]


def describe_returns(arrays: TransitionArrays) -> dict[str, Any]:
    """Episode count and return statistics for DatasetInfo."""
    rets = arrays.episode_returns()
    if len(rets) == 0:
        return {
            "n_episodes": 0,
            "return_mean": 0.0,
            "return_std": 0.0,
            "return_min": 0.0,
            "return_max": 0.0,
        }
    return {
        "n_episodes": int(len(rets)),
        "return_mean": float(rets.mean()),
        "return_std": float(rets.std()),
        "return_min": float(rets.min()),
        "return_max": float(rets.max()),
    }


def offline_data_from_arrays(
    arrays: TransitionArrays,
    info: DatasetInfo,
    obs_shape: tuple[int, ...],
    action_low: np.ndarray,
    action_high: np.ndarray,
    validate: bool = True,
) -> OfflineData:
    """Validate against the env's spaces and convert to float32 tensors (zero-copy when possible).

    ``validate=False`` only when the caller has just validated the same arrays.
    """
    if validate:
        validate_arrays(info.dataset_id, arrays, obs_shape, action_low, action_high)

    def f32(x: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    return OfflineData(
        obs=f32(arrays.obs),
        actions=f32(arrays.actions),
        rewards=f32(arrays.rewards),
        next_obs=f32(arrays.next_obs),
        terminals=f32(arrays.terminals),
        timeouts=f32(arrays.timeouts),
        episode_starts=torch.from_numpy(np.ascontiguousarray(arrays.episode_starts, dtype=bool)),
        info=info,
    )
