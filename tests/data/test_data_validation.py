"""Every bad-data case gives a clear DatasetError naming the dataset and the first bad index."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from compose.data import D4RLHdf5Source, DatasetError, MinariSource
from compose.data.arrays import TransitionArrays


def _load(path: Path, env_id: str = "InvertedPendulum-v5") -> None:
    D4RLHdf5Source(path=path, env_id=env_id).load()


def test_nan_observation(
    tmp_path: Path, pendulum_arrays: TransitionArrays, write_d4rl: Callable[..., Path]
) -> None:
    obs = pendulum_arrays.obs.copy()
    obs[17, 2] = np.nan
    path = write_d4rl(tmp_path / "nan.hdf5", pendulum_arrays, observations=obs)
    with pytest.raises(
        DatasetError, match=r"nan\.hdf5.*observations has a NaN or inf value at index 17"
    ):
        _load(path)


def test_inf_reward(
    tmp_path: Path, pendulum_arrays: TransitionArrays, write_d4rl: Callable[..., Path]
) -> None:
    rew = pendulum_arrays.rewards.copy()
    rew[5] = np.inf
    path = write_d4rl(tmp_path / "inf.hdf5", pendulum_arrays, rewards=rew)
    with pytest.raises(DatasetError, match="rewards has a NaN or inf value at index 5"):
        _load(path)


def test_shape_mismatch_with_env(
    tmp_path: Path, pendulum_arrays: TransitionArrays, write_d4rl: Callable[..., Path]
) -> None:
    path = write_d4rl(tmp_path / "pend.hdf5", pendulum_arrays)
    with pytest.raises(DatasetError, match=r"obs has shape \(200, 4\), expected \(200, 11\)"):
        _load(path, "Hopper-v5")


def test_empty_dataset(
    tmp_path: Path, pendulum_arrays: TransitionArrays, write_d4rl: Callable[..., Path]
) -> None:
    empty = TransitionArrays(
        *(
            getattr(pendulum_arrays, f)[:0]
            for f in (
                "obs",
                "actions",
                "rewards",
                "next_obs",
                "terminals",
                "timeouts",
                "episode_starts",
            )
        )
    )
    path = write_d4rl(tmp_path / "empty.hdf5", empty)
    with pytest.raises(DatasetError, match=r"empty\.hdf5.*is empty \(0 transitions\)"):
        _load(path)


def test_actions_out_of_bounds(
    tmp_path: Path, pendulum_arrays: TransitionArrays, write_d4rl: Callable[..., Path]
) -> None:
    act = pendulum_arrays.actions.copy()
    act[42] = 3.01  # InvertedPendulum's box is [-3, 3]
    act[60] = -5.0
    path = write_d4rl(tmp_path / "oob.hdf5", pendulum_arrays, actions=act)
    with pytest.raises(
        DatasetError, match=r"action at index 42 is outside the action bounds.*2 actions"
    ):
        _load(path)
    act[42], act[60] = 3.0 + 5e-5, -3.0  # within tolerance 1e-4
    _load(write_d4rl(tmp_path / "ok.hdf5", pendulum_arrays, actions=act))


def test_inconsistent_lengths(
    tmp_path: Path, pendulum_arrays: TransitionArrays, write_d4rl: Callable[..., Path]
) -> None:
    path = write_d4rl(
        tmp_path / "short.hdf5", pendulum_arrays, rewards=pendulum_arrays.rewards[:-3]
    )
    with pytest.raises(DatasetError, match="rewards has 197 rows where observations has 200"):
        _load(path)


def test_missing_keys_and_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        _load(tmp_path / "nope.hdf5")
    import h5py

    with h5py.File(tmp_path / "bad.hdf5", "w") as f:
        f.create_dataset("observations", data=np.zeros((3, 4)))
    with pytest.raises(DatasetError, match="lacks actions, rewards, terminals"):
        _load(tmp_path / "bad.hdf5")


def test_unknown_id_offline_lists_local_and_says_how(minari_store: Path) -> None:
    with pytest.raises(DatasetError) as err:
        MinariSource(id="mujoco/hopper/medium-v0").load()
    msg = str(err.value)
    assert "'mujoco/hopper/medium-v0' is not in the local Minari store" in msg
    assert "Local datasets: (none)" in msg
    assert (
        "compose data make ENV QUALITY" in msg and "compose data import-d4rl FILE --env ID" in msg
    )


def test_unknown_env(
    tmp_path: Path, pendulum_arrays: TransitionArrays, write_d4rl: Callable[..., Path]
) -> None:
    path = write_d4rl(tmp_path / "p.hdf5", pendulum_arrays)
    with pytest.raises(DatasetError, match="cannot make env 'Hoper-v5'"):
        _load(path, "Hoper-v5")
