"""Tiny real runs for the engine tests: overrides, the CLI as a subprocess, reading results back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATASET = "compose/pendulum/random-v0"


def tiny(tmp: Path) -> list[str]:
    """Overrides that shrink any of our recipes to a run of a few seconds."""
    sets = [
        f"dataset={{source: minari, id: {DATASET}}}",
        "dynamics.hidden=[32,32]",
        "dynamics.weight_decay=[0,0,0]",
        "model_learner.max_epochs=2",
        "rollout.batch_size=100",
        "rollout.every=20",
        "train.steps=50",
        "train.batch_size=32",
        "train.log_every=10",
        "eval.every=25",
        "eval.episodes=1",
        "checkpoint.every=25",
        "critic.hidden=[32,32]",
        "policy.hidden=[32,32]",
        f"runtime.model_cache={tmp / 'models'}",
        "runtime.deterministic=true",
        "runtime.threads=1",
        f"track.repo={tmp / 'aim'}",
    ]
    return [a for s in sets for a in ("--set", s)]


def compose(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``compose run ARGS`` as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "compose.cli", "run", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def params_of(run_dir: Path) -> dict[str, Any]:
    """Every network tensor of a run's checkpoint, flattened."""
    import torch

    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    out = {f"critic.{k}": v for k, v in state["critic"].items()}
    out.update({f"target.{k}": v for k, v in state["target_critic"].items()})
    for slot, comp in state["components"].items():
        out.update({f"{slot}.{k}": v for k, v in comp["module"].items()})
    return out


def read_run(repo_dir: Path, run_hash: str) -> Any:
    """The run as Aim's SDK reads it (after indexing, which ``aim up`` would do)."""
    import aim
    from aim.sdk.index_manager import RepoIndexManager

    repo = aim.Repo(str(repo_dir))
    RepoIndexManager.get_index_manager(repo).index(run_hash)
    run = repo.get_run(run_hash)
    assert run is not None, f"run {run_hash} not in {repo_dir}"
    return run


def metric_values(run: Any, name: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one metric series."""
    for metric in run.metrics():
        if metric.name == name:
            steps, (values,) = metric.data.view("val").items_list()
            return [(int(s), float(v)) for s, v in zip(steps, values, strict=True)]
    raise AssertionError(f"metric {name} not found")


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment variables of a private Minari store holding the tiny dataset (made once).

    A fixture: a conftest that needs it imports it (tests/train, tests/sweep, tests/compare).
    """
    store = tmp_path_factory.mktemp("minari")
    out = dict(
        os.environ,
        MINARI_DATASETS_PATH=str(store),
        PYTHONPATH=str(ROOT),
        OMP_NUM_THREADS="1",
        COLUMNS="120",
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from compose.data import make_dataset; make_dataset('pendulum', 'random', progress=False)",
        ],
        env=out,
        check=True,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    return out


def tiny_sets(tmp: Path) -> list[str]:
    """test_run_cli's tiny overrides as ``path=value`` strings, without its track.repo.

    Why without: a sweep logs every run to its own repo (``DIR/aim``) unless told otherwise.
    """
    args = tiny(tmp)
    values = args[1::2]
    return [v for v in values if not v.startswith("track.repo=")]


def compose_sweep(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``compose sweep ...`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "compose.cli", "sweep", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


SHRINK = (
    "dynamics.hidden=[32,32]",
    "dynamics.weight_decay=[0,0,0]",
    "dynamics.members=4",
    "dynamics.elites=3",
    # model learners: each reads only the knobs it has
    "model_learner.max_epochs=2",
    "model_learner.max_updates=60",
    "model_learner.pretrain_epochs=1",
    "model_learner.every=20",
    "model_learner.updates=2",
    "model_learner.retrain_every=30",
    "model_learner.miw_steps=3",
    "model_learner.model_steps=3",
    "model_learner.miw_hidden=[32,32]",
    "model_learner.weight_hidden=[32]",
    "model_learner.outer.samples=2",
    "model_learner.aux_losses.0.hidden=[32,32]",
    "model_learner.aux_losses.0.samples=2",
    "model_learner.aux_losses.0.horizon=2",
    # planners
    "critic_target.uncertainty.samples=2",
    "reward_shaper.hidden=[32,32]",
    "reward_shaper.uncertainty.samples=2",
    "actor.aux_losses.0.hidden=[32,32]",
    "critic.aux_losses.0.num_actions=2",
    "policy_pretrain.steps=20",
    "policy_pretrain.batch_size=32",
    # the run
    "rollout.batch_size=64",
    "rollout.every=20",
    "rollout.length=2",
    "train.steps=40",
    "train.batch_size=32",
    "train.log_every=20",
    "eval.every=1000",
    "eval.episodes=1",
    "checkpoint.every=1000",
    "critic.hidden=[32,32]",
    "policy.hidden=[32,32]",
    "runtime.deterministic=true",
    "runtime.threads=1",
)


def run_tiny(name: str, run_dir: Path, *sets: str) -> tuple[dict, str]:
    """``compose run NAME`` on the tiny pendulum data with SHRINK, no tracking, in-process.

    Returns (summary.json, console output). The caller sets MINARI_DATASETS_PATH and cwd.
    """
    from click.testing import CliRunner

    from compose.cli import cli
    from compose.plugins import load_plugins
    from compose.recipe import load_recipe
    from compose.recipe.profiles import applicable_overrides

    dataset = f"dataset={{source: minari, id: {DATASET}}}"
    base = load_recipe(name, [dataset], plugins=load_plugins())
    args = ["run", name, "--run-dir", str(run_dir), "--no-track"]
    for s in [dataset, *applicable_overrides(SHRINK, base.recipe), *sets]:
        args += ["--set", s]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output[-3000:]
    return json.loads((run_dir / "summary.json").read_text()), res.output


def flat_tensors(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Every tensor of a checkpoint, keyed by its path (``meta``/``progress`` left out)."""
    import torch

    out: dict[str, Any] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            if prefix == "" and key in ("meta", "progress"):
                continue
            out.update(flat_tensors(value, f"{prefix}{key}."))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            out.update(flat_tensors(value, f"{prefix}{i}."))
    elif isinstance(tree, torch.Tensor):
        out[prefix[:-1]] = tree
    return out


#: Series that measure the machine, not the run: steps per second and seconds.
WALL_CLOCK = {"perf/steps_per_s", "model_learner/final_seconds"}

Series = dict[tuple[str, str], list[tuple[int, float]]]


def aim_series(repo: Path, run_hash: str) -> Series:
    """Every metric series of an Aim run, keyed by (name, context), as Aim's SDK reads it."""
    run = read_run(repo, run_hash)
    out: Series = {}
    for metric in run.metrics():
        steps, (values,) = metric.data.view("val").items_list()
        key = (metric.name, json.dumps(metric.context.to_dict(), sort_keys=True))
        out[key] = [(int(s), float(v)) for s, v in zip(steps, values, strict=True)]
    return out
