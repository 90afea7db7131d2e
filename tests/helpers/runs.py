"""Tiny real runs for the engine tests: overrides, the CLI as a subprocess, reading results back."""

from __future__ import annotations

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
