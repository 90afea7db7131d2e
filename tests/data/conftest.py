"""Fixtures for data tests: an isolated, offline Minari store and D4RL-layout files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from compose.data.arrays import TransitionArrays
from compose.data.factory import collect


@pytest.fixture
def minari_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MINARI_DATASETS_PATH; downloads are off (this machine has no network)."""
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    monkeypatch.setenv("COMPOSE_OFFLINE", "1")
    return root


@pytest.fixture(scope="session")
def pendulum_arrays() -> TransitionArrays:
    """200 real InvertedPendulum-v5 transitions with uniform actions (many short episodes)."""
    arrays, _ = collect("InvertedPendulum-v5", None, 200, seed=3, n_envs=2)
    return arrays


@pytest.fixture
def write_d4rl() -> Callable[..., Path]:
    """The :func:`_write_d4rl` helper."""
    return _write_d4rl


def _write_d4rl(
    path: Path, arrays: TransitionArrays, next_observations: bool = True, **override: np.ndarray
) -> Path:
    """Write arrays in D4RL's hdf5 layout (fields may be overridden to make bad files)."""
    fields = {
        "observations": arrays.obs,
        "actions": arrays.actions,
        "rewards": arrays.rewards,
        "terminals": arrays.terminals.astype(bool),
        "timeouts": arrays.timeouts.astype(bool),
    }
    if next_observations:
        fields["next_observations"] = arrays.next_obs
    fields.update(override)
    with h5py.File(path, "w") as f:
        for key, value in fields.items():
            f.create_dataset(key, data=value)
    return path
