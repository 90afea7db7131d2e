"""The dataset factory: tiny datasets for the small env through every quality, deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from compose.data import MinariSource
from compose.data.behavior import BehaviorPolicy, load_policy, save_policy
from compose.data.errors import DatasetError
from compose.data.factory import make_dataset, parse_factory_id
from compose.data.minari_io import read_metadata, read_minari


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """Untrained pendulum 'medium' and 'expert' checkpoints with snapshots (real files)."""
    torch.manual_seed(0)
    out = tmp_path / "policies"
    for kind in ("medium", "expert"):
        pol = BehaviorPolicy(4, 1, [-3.0], [3.0], hidden=(16, 16))
        snaps = [{"state_dict": BehaviorPolicy(4, 1, [-3.0], [3.0], (16, 16)).state_dict(),
                  "env_steps": s, "eval_return": 5.0} for s in (200, 400)]
        meta = {"kind": kind, "env_steps": 400, "eval_return": 7.0, "normalized_score": 0.2,
                "sac_config": {"learning_starts": 100}}
        save_policy(out / f"pendulum_{kind}.pt", pol, meta, snaps)
    return out


def test_parse_factory_id() -> None:
    assert parse_factory_id("compose/hopper/medium-replay-v0") == ("hopper", "medium-replay")
    assert parse_factory_id("compose/ant/medium-v0") is None
    assert parse_factory_id("mujoco/hopper/medium-v0") is None


def test_make_random_and_made_on_first_use(minari_store: Path) -> None:
    # absent from the store but makeable: the minari source makes and caches it
    d = MinariSource(id="compose/pendulum/random-v0").load()
    assert len(d) == 2_000 and d.info.env_id == "InvertedPendulum-v5"
    meta = read_metadata("compose/pendulum/random-v0")["compose"]
    assert meta["quality"] == "random" and meta["seed"] == 0
    assert "uniform random actions" in d.info.provenance
    assert meta["behavior_return_mean"] == pytest.approx(d.info.return_mean, rel=0.5)


def test_make_is_deterministic(minari_store: Path) -> None:
    make_dataset("pendulum", "random", seed=4, size=300, dataset_id="t/pendulum/a-v0",
                 progress=False)
    make_dataset("pendulum", "random", seed=4, size=300, dataset_id="t/pendulum/b-v0",
                 progress=False)
    a, b = read_minari("t/pendulum/a-v0"), read_minari("t/pendulum/b-v0")
    np.testing.assert_array_equal(a.obs, b.obs)
    np.testing.assert_array_equal(a.actions, b.actions)
    with pytest.raises(DatasetError, match="already exists"):
        make_dataset("pendulum", "random", seed=4, size=300, dataset_id="t/pendulum/a-v0",
                     progress=False)


@pytest.mark.parametrize("quality", ["medium", "medium-replay", "medium-expert"])
def test_make_with_behavior_policies(minari_store: Path, policy_dir: Path, quality: str) -> None:
    made = make_dataset("pendulum", quality, size=200, policy_dir=policy_dir, progress=False)
    d = MinariSource(id=made).load()
    assert len(d) == (400 if quality == "medium-expert" else 200)
    meta = read_metadata(made)["compose"]
    assert meta["behavior"][0]["checkpoint"] == "pendulum_medium.pt"
    if quality == "medium-replay":
        assert meta["behavior"][0]["segment_sizes"] == [50, 50, 100]
    assert d.info.metadata["ref_max_score"] == 1000.0


def test_missing_behavior_policy_says_how(minari_store: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="compose data train-behavior pendulum"):
        make_dataset("pendulum", "expert", size=50, policy_dir=tmp_path, progress=False)


def test_policy_checkpoint_round_trip(policy_dir: Path) -> None:
    pol, meta, snaps = load_policy(policy_dir / "pendulum_medium.pt")
    assert meta["kind"] == "medium" and len(snaps) == 2
    assert snaps[0]["state_dict"]["net.body.net.0.weight"].dtype == torch.float32
    act = pol.act(torch.zeros(5, 4), deterministic=True)
    assert act.shape == (5, 1) and act.abs().max() <= 3.0


def test_cli_make_and_info(minari_store: Path) -> None:
    from click.testing import CliRunner

    from compose.cli.data import data

    runner = CliRunner()
    res = runner.invoke(data, ["make", "pendulum", "random", "--size", "120", "--seed", "2"])
    assert res.exit_code == 0, res.output
    assert "made compose/pendulum/random-v0" in res.output
    res = runner.invoke(data, ["info", "compose/pendulum/random-v0"])
    assert res.exit_code == 0 and "120" in res.output and "uniform random" in res.output
    res = runner.invoke(data, ["make", "pendulum", "expert", "--policy-dir", str(minari_store)])
    assert res.exit_code == 1 and "compose data train-behavior pendulum" in res.output


def test_shipped_hopper_medium_policy_makes_data(minari_store: Path) -> None:
    from compose.data.factory import BEHAVIOR_DIR

    _, meta, snaps = load_policy(BEHAVIOR_DIR / "hopper_medium.pt")
    assert meta["env_id"] == "Hopper-v5" and meta["eval_return"] >= meta["medium_target"]
    assert len(snaps) >= 2
    made = make_dataset("hopper", "medium", size=64, progress=False)
    d = MinariSource(id=made).load()
    assert len(d) == 64 and d.info.ref_source == "d4rl"
    assert read_metadata(made)["compose"]["behavior"][0]["checkpoint"] == "hopper_medium.pt"
