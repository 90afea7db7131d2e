"""``compose run`` end to end as a subprocess on a tiny factory dataset (InvertedPendulum).

Every recipe trains through the real CLI; a run resumed from a checkpoint ends with the same
parameters as an uninterrupted one; a mismatched resume is refused; NaN stops the run with
the slot and step; Ctrl-C saves a checkpoint; the Aim run is read back with Aim's SDK.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.helpers.runs import DATASET, ROOT, compose, metric_values, params_of, read_run, tiny


@pytest.fixture(scope="module")
def baseline(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One uninterrupted tiny MBPO run (tracked): (tmp, run_dir)."""
    tmp = tmp_path_factory.mktemp("base")
    run_dir = tmp / "run"
    res = compose(env, "recipes/mbpo.yaml", *tiny(tmp), "--run-dir", str(run_dir))
    assert res.returncode == 0, res.stderr[-3000:]
    return tmp, run_dir


def test_mbpo_run_writes_recipe_checkpoint_summary_and_aim(baseline: tuple[Path, Path]) -> None:
    tmp, run_dir = baseline
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == 50
    assert summary["final_normalized_score"] is not None
    assert "name: mbpo" in (run_dir / "recipe.yaml").read_text()
    run = read_run(tmp / "aim", summary["aim_run_hash"])
    assert run["recipe"]["name"] == "mbpo"
    assert run["recipe"]["train"]["steps"] == 50
    assert run["dataset"]["id"] == DATASET
    assert run["recipe_hash"] == summary["recipe_hash"]
    losses = metric_values(run, "critic_target/loss_critic")
    assert [s for s, _ in losses] == [10, 20, 30, 40, 50]
    assert [s for s, _ in metric_values(run, "eval/normalized_score")] == [25, 50]
    names = {m.name for m in run.metrics()}
    assert {
        "actor_objective/alpha",
        "grad_norm/critic",
        "grad_norm/policy",
        "rollout/reward_mean",
        "perf/steps_per_s",
        "model_learner/holdout_mse",
    } <= names


@pytest.mark.parametrize("recipe", ["mopo", "mobile"])
def test_recipe_trains_end_to_end(env: dict[str, str], tmp_path: Path, recipe: str) -> None:
    run_dir = tmp_path / "run"
    res = compose(
        env, f"recipes/{recipe}.yaml", *tiny(tmp_path), "--no-track", "--run-dir", str(run_dir)
    )
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert isinstance(summary["final_normalized_score"], float)


def test_resumed_run_equals_uninterrupted(
    env: dict[str, str], baseline: tuple[Path, Path], tmp_path: Path
) -> None:
    base_tmp, base_dir = baseline
    run_dir = tmp_path / "run"
    args = [*tiny(base_tmp), "--no-track"]  # same model cache: the model phase is reused
    first = compose(env, "recipes/mbpo.yaml", *args, "--steps", "25", "--run-dir", str(run_dir))
    assert first.returncode == 0, first.stderr[-3000:]
    again = compose(env, "--resume", str(run_dir), "--steps", "50", "--no-track")
    assert again.returncode == 0, again.stderr[-3000:]
    a, b = params_of(base_dir), params_of(run_dir)
    assert a.keys() == b.keys()
    unequal = [k for k in a if not torch.equal(a[k], b[k])]
    assert not unequal, unequal


def test_resume_with_a_different_recipe_is_refused(
    env: dict[str, str], baseline: tuple[Path, Path]
) -> None:
    tmp, run_dir = baseline
    res = compose(
        env,
        "recipes/mbpo.yaml",
        *tiny(tmp),
        "--set",
        "critic.lr=1e-3",
        "--resume",
        str(run_dir),
        "--no-track",
    )
    assert res.returncode == 2
    assert "cannot resume" in res.stderr and "critic.lr" in res.stderr


def test_nan_stops_with_slot_step_and_last_good_checkpoint(
    env: dict[str, str], tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    env = dict(env, COMPOSE_EXTRA_PLUGINS="tests.train.nan_plugin")
    res = compose(
        env,
        "recipes/mbpo.yaml",
        *tiny(tmp_path),
        "--no-track",
        "--set",
        "critic.aux_losses=[{type: nan_at, at: 32}]",
        "--run-dir",
        str(run_dir),
    )
    assert res.returncode == 1, res.stderr[-3000:]
    assert "non-finite values at step 32" in res.stderr
    assert "critic.aux_losses.0/loss_nan" in res.stderr
    assert str(run_dir / "checkpoint.pt") in res.stderr
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert state["step"] == 25
    assert all(
        torch.isfinite(v).all() for v in params_of(run_dir).values() if v.is_floating_point()
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"].startswith("failed")
    assert summary["steps"] == 32  # the step the message names, not the check's (40)
    assert "produced by critic.aux_losses.0 (nan_at)" in res.stderr


def test_a_component_breaking_its_contract_is_bad_input_not_a_crash(
    env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(env, COMPOSE_EXTRA_PLUGINS="tests.train.nan_plugin")
    res = compose(
        env,
        "recipes/mbpo.yaml",
        *tiny(tmp_path),
        "--no-track",
        "--set",
        "reward_shaper=broken_shaper",
        "--run-dir",
        str(tmp_path / "run"),
    )
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    assert "broken_shaper" in res.stderr and "reward_shaper" in res.stderr


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(
    env: dict[str, str], tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "compose.cli",
            "run",
            "recipes/mbpo.yaml",
            *tiny(tmp_path),
            "--no-track",
            "--steps",
            "100000",
            "--set",
            "eval.every=100000",
            "--run-dir",
            str(run_dir),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    deadline = time.time() + 120
    while time.time() < deadline and not any(
        "model phase:" in line and "epochs" in line for line in lines
    ):
        time.sleep(0.2)
    time.sleep(3.0)  # well into the policy phase
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    reader.join(timeout=10)
    proc.stderr.close()  # type: ignore[union-attr]
    text = "".join(lines)
    assert "resume with: compose run --resume" in text
    state: dict[str, Any] = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert 0 < state["step"] < 100000


def test_missing_dataset_is_bad_input_not_a_crash(env: dict[str, str], tmp_path: Path) -> None:
    """A Minari id that is not in the store (and not makeable) exits 2 with a clear message."""
    res = compose(
        env,
        "recipes/mbpo.yaml",
        *tiny(tmp_path),
        "--no-track",
        "--set",
        "dataset.id=someone/nothing-v0",
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert res.returncode == 2, res.stderr
    assert "someone/nothing-v0" in res.stderr and "internal error" not in res.stderr
    assert "Traceback" not in res.stderr


def test_second_run_loads_the_fitted_model_from_the_cache(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Same dataset, dynamics, learner and seed: the model phase is read back, not refitted."""
    summaries = []
    for name in ("first", "second"):
        res = compose(
            env,
            "recipes/mbpo.yaml",
            *tiny(tmp_path),
            "--no-track",
            "--steps",
            "5",
            "--run-dir",
            str(tmp_path / name),
        )
        assert res.returncode == 0, res.stderr
        summaries.append(json.loads((tmp_path / name / "summary.json").read_text()))
    assert summaries[0]["model_metrics"]["cached"] == 0.0
    assert summaries[1]["model_metrics"]["cached"] == 1.0
    assert "ignoring unreadable cache entry" not in res.stdout + res.stderr
    assert (
        summaries[1]["model_metrics"]["holdout_mse"] == summaries[0]["model_metrics"]["holdout_mse"]
    )
