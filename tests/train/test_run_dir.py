"""Run directories: two checkpoints kept, litter removed, one process at a time, no silent
overwrite, unreadable checkpoints explained (exit 2), the profile and the NaN step kept in
summary.json, a stateful component resumed exactly when it saves its plain attributes.

The CLI cases are real tiny MBPO runs on the pendulum data (as tests/train/test_run_cli.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from compose.train.run_dir import RunDir, RunDirBusy, RunDirError
from tests.helpers.runs import ROOT, compose, flat_tensors, tiny

# -- the directory itself (no training) ----------------------------------------------------


def test_two_checkpoints_kept_and_the_previous_is_the_fallback(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    for step in (1, 2, 3):
        run.save_checkpoint({"format": 1, "meta": {}, "step": step})
    assert torch.load(run.checkpoint, weights_only=True)["step"] == 3
    assert torch.load(run.previous_checkpoint, weights_only=True)["step"] == 2
    run.checkpoint.write_bytes(run.checkpoint.read_bytes()[:100])  # truncated
    said: list[str] = []
    state, path = run.load_checkpoint("cpu", said.append)
    assert state["step"] == 2 and path == run.previous_checkpoint
    assert "truncated or damaged" in said[0] and str(run.checkpoint) in said[0]
    # the unreadable one is moved aside: the next save keeps step 2 as the fallback
    run.save_checkpoint({"format": 1, "meta": {}, "step": 4})
    assert torch.load(run.previous_checkpoint, weights_only=True)["step"] == 2


def test_litter_of_a_killed_write_is_removed_when_locked(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    litter = run.path / ".checkpoint.pt.tmp-12345"
    litter.write_bytes(b"half a checkpoint")
    (run.path / "notes.txt").write_text("mine")
    with run.locked():
        assert not litter.exists()
    assert (run.path / "notes.txt").exists()


def test_lock_names_the_holder_and_a_dead_holder_is_taken_over(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    with run.locked():
        assert run.lock_file.read_text().strip() == str(os.getpid())
        with pytest.raises(RunDirBusy, match=f"in use by process {os.getpid()}"):
            with run.locked():
                pass
    # a lock file left by a process that is gone is no obstacle
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run.lock_file.write_text(f"{dead.pid}\n")
    with run.locked():
        assert run.lock_file.read_text().strip() == str(os.getpid())
    assert not run.lock_file.exists()


def test_no_checkpoint_readable_says_what_to_do(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.checkpoint.write_bytes(b"")
    with pytest.raises(RunDirError) as err:
        run.load_checkpoint("cpu")
    msg = str(err.value)
    assert f"{run.checkpoint} is empty (0 bytes)" in msg
    assert "no previous checkpoint is kept" in msg and "--overwrite" in msg


def test_a_foreign_pickle_is_refused_without_torchs_advice(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    torch.save({"format": 1, "meta": argparse.Namespace(x=1)}, run.checkpoint)
    with pytest.raises(RunDirError) as err:
        run.load_checkpoint("cpu")
    msg = str(err.value)
    assert "is not a compose checkpoint" in msg and "not loaded" in msg
    assert "weights_only" not in msg


# -- real runs through the CLI --------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A finished tiny MBPO run under the quick profile: (tmp, run_dir)."""
    tmp = tmp_path_factory.mktemp("rundir")
    run_dir = tmp / "run"
    res = compose(
        env,
        "recipes/mbpo.yaml",
        "--quick",
        *tiny(tmp),
        "--no-track",
        "--set",
        "eval.final_episodes=1",
        "--run-dir",
        str(run_dir),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return tmp, run_dir


def test_a_fresh_run_into_a_finished_run_is_refused(
    env: dict[str, str], finished: tuple[Path, Path], tmp_path: Path
) -> None:
    tmp, run_dir = finished
    before = run_dir.joinpath("summary.json").read_text()
    res = compose(env, "recipes/mbpo.yaml", *tiny(tmp), "--no-track", "--run-dir", str(run_dir))
    assert res.returncode == 2, res.stderr[-3000:]
    assert "already holds a run" in res.stderr and "--overwrite" in res.stderr
    assert "Traceback" not in res.stderr
    assert run_dir.joinpath("summary.json").read_text() == before
    # --overwrite starts over (a copy, so the other tests keep the finished run)
    other = tmp_path / "copy"
    other.mkdir()
    for name in ("summary.json", "checkpoint.pt", "recipe.yaml"):
        other.joinpath(name).write_bytes(run_dir.joinpath(name).read_bytes())
    res = compose(
        env,
        "recipes/mbpo.yaml",
        *tiny(tmp),
        "--no-track",
        "--steps",
        "5",
        "--run-dir",
        str(other),
        "--overwrite",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(other.joinpath("summary.json").read_text())["steps"] == 5


def test_resume_while_the_run_is_in_use_is_refused(
    env: dict[str, str], finished: tuple[Path, Path]
) -> None:
    _, run_dir = finished
    with RunDir(run_dir).locked():
        res = compose(env, "--resume", str(run_dir), "--steps", "60", "--no-track")
    assert res.returncode == 2, res.stderr[-3000:]
    assert f"in use by process {os.getpid()}" in res.stderr
    assert json.loads(run_dir.joinpath("summary.json").read_text())["steps"] == 50


def test_unreadable_checkpoints_exit_2_with_the_file_and_the_fix(
    env: dict[str, str], finished: tuple[Path, Path], tmp_path: Path
) -> None:
    _, run_dir = finished
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("recipe.yaml", "summary.json"):
        copy.joinpath(name).write_bytes(run_dir.joinpath(name).read_bytes())
    ckpt = copy / "checkpoint.pt"
    good = run_dir.joinpath("checkpoint.pt").read_bytes()
    for content, words in (
        (b"", "is empty (0 bytes)"),
        (good[: len(good) // 2], "is truncated or damaged"),
    ):
        ckpt.write_bytes(content)
        res = compose(env, "--resume", str(copy), "--steps", "60", "--no-track")
        assert res.returncode == 2, res.stderr[-3000:]
        assert f"{ckpt} {words}" in res.stderr and "--overwrite" in res.stderr
        assert "Aborted!" not in res.stderr and "internal error" not in res.stderr
    torch.save({"format": 1, "meta": argparse.Namespace(x=1)}, ckpt)
    res = compose(env, "--resume", str(copy), "--steps", "60", "--no-track")
    assert res.returncode == 2 and "is not a compose checkpoint" in res.stderr
    assert "weights_only" not in res.stderr
    # with the previous checkpoint kept, a truncated newest one falls back to it
    copy.joinpath("checkpoint.prev.pt").write_bytes(
        run_dir.joinpath("checkpoint.prev.pt").read_bytes()
    )
    ckpt.write_bytes(good[:1000])
    res = compose(env, "--resume", str(copy), "--steps", "60", "--no-track")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "resuming from the previous checkpoint" in " ".join(res.stderr.split())


def test_summary_keeps_the_profile_after_a_resume(
    env: dict[str, str], finished: tuple[Path, Path], tmp_path: Path
) -> None:
    tmp, run_dir = finished
    profile = json.loads(run_dir.joinpath("summary.json").read_text())["profile"]
    assert "model_learner.max_updates=4000" in profile
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("recipe.yaml", "summary.json", "checkpoint.pt"):
        copy.joinpath(name).write_bytes(run_dir.joinpath(name).read_bytes())
    res = compose(env, "--resume", str(copy), "--steps", "55", "--no-track")
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(copy.joinpath("summary.json").read_text())
    assert summary["steps"] == 55 and summary["profile"] == profile


def test_nan_stop_names_the_component_and_summary_has_its_step(
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
        "reward_shaper={type: nan_shaper, at: 3}",
        "--set",
        "rollout.length=1",
        "--run-dir",
        str(run_dir),
    )
    assert res.returncode == 1, res.stderr[-3000:]
    # rollouts every 20 steps (one call each): the third, at step 40, is NaN
    assert "non-finite values at step 40 produced by reward_shaper (nan_shaper)" in res.stderr
    summary = json.loads(run_dir.joinpath("summary.json").read_text())
    assert summary["status"] == "failed: non-finite values" and summary["steps"] == 40


# -- the Component contract: plain attributes survive a resume only when saved -------------


def _run(*args: str) -> None:
    from compose.cli import cli

    res = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output[-3000:]


@pytest.mark.parametrize("save", [True, False])
def test_a_stateful_shaper_resumes_exactly_when_it_saves_its_state(
    save: bool, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
    monkeypatch.setenv("COMPOSE_EXTRA_PLUGINS", "tests.train.nan_plugin")
    monkeypatch.chdir(ROOT)
    args = [
        *tiny(tmp_path),
        "--no-track",
        "--set",
        f"reward_shaper={{type: counting, save: {str(save).lower()}}}",
        "--set",
        "rollout.every=10",
        "--set",
        "checkpoint.every=20",
        "--set",
        "eval.every=100",
    ]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _run("recipes/mbpo.yaml", *args, "--steps", "40", "--run-dir", str(whole))
    _run("recipes/mbpo.yaml", *args, "--steps", "20", "--run-dir", str(parts))
    _run("--resume", str(parts), "--steps", "40", "--no-track")
    a = flat_tensors(torch.load(whole / "checkpoint.pt", weights_only=True))
    b = flat_tensors(torch.load(parts / "checkpoint.pt", weights_only=True))
    same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert same == save
