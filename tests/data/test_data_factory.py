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
        snaps = [
            {
                "state_dict": BehaviorPolicy(4, 1, [-3.0], [3.0], (16, 16)).state_dict(),
                "env_steps": s,
                "eval_return": 5.0,
            }
            for s in (200, 400)
        ]
        meta = {
            "kind": kind,
            "env_steps": 400,
            "eval_return": 7.0,
            "normalized_score": 0.2,
            "sac_config": {"learning_starts": 100},
        }
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
    make_dataset(
        "pendulum", "random", seed=4, size=300, dataset_id="t/pendulum/a-v0", progress=False
    )
    make_dataset(
        "pendulum", "random", seed=4, size=300, dataset_id="t/pendulum/b-v0", progress=False
    )
    a, b = read_minari("t/pendulum/a-v0"), read_minari("t/pendulum/b-v0")
    np.testing.assert_array_equal(a.obs, b.obs)
    np.testing.assert_array_equal(a.actions, b.actions)
    with pytest.raises(DatasetError, match="already exists"):
        make_dataset(
            "pendulum", "random", seed=4, size=300, dataset_id="t/pendulum/a-v0", progress=False
        )


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
    assert res.exit_code == 2 and "compose data train-behavior pendulum" in res.output


def test_shipped_hopper_medium_policy_makes_data(minari_store: Path) -> None:
    from compose.data.factory import BEHAVIOR_DIR

    _, meta, snaps = load_policy(BEHAVIOR_DIR / "hopper_medium.pt")
    assert meta["env_id"] == "Hopper-v5" and meta["eval_return"] >= meta["medium_target"]
    assert len(snaps) >= 2
    made = make_dataset("hopper", "medium", size=64, progress=False)
    d = MinariSource(id=made).load()
    assert len(d) == 64 and d.info.ref_source == "d4rl"
    assert read_metadata(made)["compose"]["behavior"][0]["checkpoint"] == "hopper_medium.pt"


def test_numpy_sampler_matches_torch_policy(policy_dir: Path) -> None:
    pol, _, _ = load_policy(policy_dir / "pendulum_medium.pt")
    obs = np.random.default_rng(0).normal(size=(7, 4))
    det = pol.numpy_sampler(seed=0, deterministic=True)(obs)
    ref = pol.act(torch.as_tensor(obs, dtype=torch.float32), deterministic=True).numpy()
    np.testing.assert_allclose(det, ref, atol=1e-5)
    # stochastic: a = scale(tanh(mean + std * eps)) with eps from default_rng(seed)
    got = pol.numpy_sampler(seed=5)(obs)
    eps = torch.as_tensor(np.random.default_rng(5).standard_normal((7, 1), dtype=np.float32))
    mean, log_std = pol(torch.as_tensor(obs, dtype=torch.float32))
    want = -3.0 + (torch.tanh(mean + log_std.exp() * eps) + 1.0) * 3.0
    np.testing.assert_allclose(got, want.detach().numpy(), atol=1e-5)
    assert not np.allclose(got, det)


def _episode_checks(a: object, n: int) -> None:
    """Exact size, chained states, one end flag per episode, at most one budget cut."""
    assert len(a) == n
    starts, ends = a.episode_bounds()
    inner = ~a.episode_starts[1:]
    np.testing.assert_array_equal(a.next_obs[:-1][inner], a.obs[1:][inner])
    done = a.terminals + a.timeouts
    assert done.max() <= 1 and done.sum() == len(starts) and (done[ends - 1] == 1).all()
    # timeouts before the env's 1000-step limit: only the budget's cut of the last episode
    short_timeouts = [
        k
        for k, (s, e) in enumerate(zip(starts, ends, strict=True))
        if a.timeouts[e - 1] and e - s < 1000
    ]
    assert short_timeouts in ([], [len(starts) - 1])


def test_collect_whole_episodes_and_seeds() -> None:
    from compose.data.factory import collect

    a, rets = collect("InvertedPendulum-v5", None, 500, seed=1, n_envs=4)
    _episode_checks(a, 500)
    starts, ends = a.episode_bounds()
    whole = len(starts) - int(a.timeouts[-1] and not a.terminals[-1])
    assert len(rets) == whole and rets.sum() == pytest.approx(a.rewards[: ends[whole - 1]].sum())
    b, _ = collect("InvertedPendulum-v5", None, 500, seed=1, n_envs=4)
    c, _ = collect("InvertedPendulum-v5", None, 500, seed=2, n_envs=4)
    for f in ("obs", "actions", "rewards", "next_obs", "terminals", "timeouts"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.actions, c.actions)


def test_medium_dataset_deterministic_per_seed(minari_store: Path, policy_dir: Path) -> None:
    def make(seed: int, name: str) -> object:
        made = make_dataset(
            "pendulum",
            "medium",
            seed=seed,
            size=300,
            policy_dir=policy_dir,
            dataset_id=f"t/pendulum/{name}-v0",
            progress=False,
        )
        return read_minari(made)

    a, b, c = make(3, "a"), make(3, "b"), make(4, "c")
    _episode_checks(a, 300)
    for f in ("obs", "actions", "rewards", "next_obs", "terminals", "timeouts", "episode_starts"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.actions, c.actions)
    meta = read_metadata("t/pendulum/a-v0")["compose"]
    assert meta["seed"] == 3 and meta["behavior"][0]["eval_return"] == 7.0
    assert meta["collect_seconds"] >= 0 and "seed 3" in meta["provenance"]


def test_train_behavior_until_medium_never_writes_expert(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from compose.cli.data import data

    out = tmp_path / "out"
    res = CliRunner().invoke(
        data,
        [
            "train-behavior",
            "pendulum",
            "--until",
            "medium",
            "--steps",
            "150",
            "--learning-starts",
            "100",
            "--eval-every",
            "150",
            "--hidden",
            "16,16",
            "--out",
            str(out),
        ],
    )
    # 150 steps cannot reach the medium target: a clear failure, and no half-trained files
    assert res.exit_code == 1 and "no medium policy after 150 steps" in res.output
    assert not out.exists() or not any(out.iterdir())
