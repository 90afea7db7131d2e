"""Minari and D4RL sources: round trips through real files, imports, configs without torch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from compose.cli.data import data
from compose.data import D4RLHdf5Source, MinariSource
from compose.data.arrays import TransitionArrays
from compose.data.importing import import_d4rl
from compose.data.minari_io import list_local, write_minari


def test_minari_round_trip(minari_store: Path, pendulum_arrays: TransitionArrays) -> None:
    a = pendulum_arrays
    write_minari(
        "test/pendulum/rt-v0",
        a,
        "InvertedPendulum-v5",
        0.0,
        1000.0,
        "test data",
        "uniform",
        {"provenance": "unit test data"},
    )
    assert list_local() == ["test/pendulum/rt-v0"]
    d = MinariSource(id="test/pendulum/rt-v0").load()
    assert len(d) == len(a)
    torch.testing.assert_close(d.obs, torch.as_tensor(a.obs, dtype=torch.float32))
    torch.testing.assert_close(d.next_obs, torch.as_tensor(a.next_obs, dtype=torch.float32))
    torch.testing.assert_close(d.actions, torch.as_tensor(a.actions))
    torch.testing.assert_close(d.rewards, torch.as_tensor(a.rewards, dtype=torch.float32))
    assert d.terminals.sum().item() == a.terminals.sum()
    assert torch.equal(d.episode_starts, torch.as_tensor(a.episode_starts))
    # every episode ends (terminal or timeout); episode ends are right before starts
    ends = (d.terminals + d.timeouts) > 0
    assert torch.equal(ends[:-1], d.episode_starts[1:]) and ends[-1]
    info = d.info
    assert info.env_id == "InvertedPendulum-v5" and (info.obs_dim, info.act_dim) == (4, 1)
    assert info.ref_source == "dataset metadata" and info.ref_max_score == 1000.0
    assert info.provenance == "unit test data"
    assert info.n_episodes == int(a.episode_starts.sum())
    assert info.return_mean == pytest.approx(a.episode_returns().mean())
    stats = d.stats()
    assert stats is d.stats() and stats.obs_mean.shape == (4,)
    torch.testing.assert_close(stats.delta_mean, (d.next_obs - d.obs).mean(0))
    assert d.initial_obs().shape == (info.n_episodes, 4)
    assert d.to("cpu").obs.device.type == "cpu"


@pytest.mark.parametrize("with_next", [True, False])
def test_d4rl_hdf5_loads(
    tmp_path: Path,
    pendulum_arrays: TransitionArrays,
    with_next: bool,
    write_d4rl: Callable[..., Path],
) -> None:
    a = pendulum_arrays
    path = write_d4rl(tmp_path / "pend.hdf5", a, next_observations=with_next)
    d = D4RLHdf5Source(path=path, env_id="InvertedPendulum-v5").load()
    n_eps = int(a.episode_starts.sum())
    if with_next:
        assert len(d) == len(a) and d.info.n_episodes == n_eps
        torch.testing.assert_close(d.next_obs, torch.as_tensor(a.next_obs, dtype=torch.float32))
    else:
        # an episode's last transition is dropped (no known next state) unless it is terminal
        starts, ends = a.episode_bounds()
        ended = a.terminals[ends - 1] > 0
        vanished = int(((ends - starts == 1) & ~ended).sum())
        assert len(d) == len(a) - int((~ended).sum())
        assert d.info.n_episodes == n_eps - vanished
        assert d.terminals.sum() == a.terminals.sum() > 0
    # s' never crosses an episode boundary: within an episode, next_obs[t] == obs[t + 1]
    same_episode = ~d.episode_starts[1:]
    torch.testing.assert_close(d.next_obs[:-1][same_episode], d.obs[1:][same_episode])
    assert d.info.source == "d4rl_hdf5" and d.info.env_id == "InvertedPendulum-v5"


def test_d4rl_ref_scores_for_locomotion(tmp_path: Path, write_d4rl: Callable[..., Path]) -> None:
    from compose.data.factory import collect

    a, _ = collect("Hopper-v5", None, 64, seed=0, n_envs=2)
    d = D4RLHdf5Source(path=write_d4rl(tmp_path / "h.hdf5", a), env_id="Hopper-v5").load()
    assert d.info.ref_source == "d4rl"
    assert (d.info.ref_min_score, d.info.ref_max_score) == (-20.272305, 3234.3)


def test_import_d4rl_round_trip(
    minari_store: Path,
    tmp_path: Path,
    pendulum_arrays: TransitionArrays,
    write_d4rl: Callable[..., Path],
) -> None:
    path = write_d4rl(tmp_path / "pendulum_uniform-v2.hdf5", pendulum_arrays)
    made = import_d4rl(path, "InvertedPendulum-v5")
    assert made == "d4rl/pendulum-uniform-v0"
    d = MinariSource(id=made).load()
    torch.testing.assert_close(d.obs, torch.as_tensor(pendulum_arrays.obs, dtype=torch.float32))
    assert "pendulum_uniform-v2.hdf5" in d.info.provenance


def test_cli_import_list_info(
    minari_store: Path,
    tmp_path: Path,
    pendulum_arrays: TransitionArrays,
    write_d4rl: Callable[..., Path],
) -> None:
    path = write_d4rl(tmp_path / "p.hdf5", pendulum_arrays)
    runner = CliRunner()
    res = runner.invoke(
        data, ["import-d4rl", str(path), "--env", "InvertedPendulum-v5", "--id", "mine/pend-v0"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(data, ["list"])
    assert "mine/pend-v0" in res.output and "compose/hopper/medium-v0" in res.output
    res = runner.invoke(data, ["info", "mine/pend-v0"])
    assert res.exit_code == 0, res.output
    assert "InvertedPendulum-v5" in res.output and "provenance" in res.output
    res = runner.invoke(data, ["info", "nope/missing-v0"])
    assert res.exit_code == 2 and "compose data make" in res.output


def test_source_configs_are_torch_free() -> None:
    code = (
        "import sys; from compose.data import DATASET_SOURCES, MinariSource; "
        "MinariSource(id='mujoco/hopper/medium-v0'); "
        "assert [c.__name__ for c in DATASET_SOURCES] == ['MinariSource', 'D4RLHdf5Source']; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_configs_are_frozen_and_strict() -> None:
    from pydantic import ValidationError

    cfg = MinariSource.model_validate({"source": "minari", "id": "x/y-v0"})
    with pytest.raises(ValidationError):
        MinariSource.model_validate({"source": "minari", "id": "x", "idd": 1})
    with pytest.raises(ValidationError):
        cfg.id = "other"  # type: ignore[misc]
