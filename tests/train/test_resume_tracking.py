"""A run stopped and resumed twice leaves the same Aim record as one that was never stopped.

The tiny MBPO run of :func:`tests.train.test_run_cli.tiny` (50 steps; logs every 10,
rollouts every 20, evaluations and checkpoints every 25) runs once uninterrupted, and once
with Ctrl-C after step 15 (a checkpoint between the scheduled ones), ``--resume``, Ctrl-C
twice after step 43 (an abort: the run goes back to its checkpoint at 25 and logs steps 30
and 40 again) and ``--resume`` to the end. Every metric series is read back with Aim's SDK;
steps and values must match, but for wall-clock figures. The runs are in-process (the CLI
through click's runner) to keep the test fast; the stops come from ``stop_plugin``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compose.cli import cli
from tests.helpers.runs import ROOT, WALL_CLOCK, aim_series, tiny
from tests.train.stop_plugin import STOP_ENV


def active(repo: Path, run_hash: str) -> bool | None:
    """Whether a fresh ``aim.Repo`` (no re-indexing, as a script would) shows the run active."""
    import aim

    run = aim.Repo(str(repo)).get_run(run_hash)
    return None if run is None else bool(run.active)


def compose_run(monkeypatch: pytest.MonkeyPatch, stop: str | None, *args: str) -> int:
    """``compose run ARGS`` in this process, stopped as ``stop`` (``STEP:HOW``) says."""
    if stop is None:
        monkeypatch.delenv(STOP_ENV, raising=False)
    else:
        monkeypatch.setenv(STOP_ENV, stop)
    res = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    assert "Traceback" not in res.output, res.output[-3000:]
    return res.exit_code


def test_twice_resumed_run_tracks_the_same_aim_series_as_an_uninterrupted_one(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
    monkeypatch.setenv("COMPOSE_EXTRA_PLUGINS", "tests.train.stop_plugin")
    monkeypatch.chdir(ROOT)
    args = [
        *tiny(tmp_path),
        "--set",
        "critic.aux_losses=[{type: stop_at}]",
        "--set",
        "runtime.model_cache=null",
    ]  # both runs fit (and log) the model phase
    whole, parts, repo = tmp_path / "whole", tmp_path / "parts", tmp_path / "aim"
    assert compose_run(monkeypatch, None, "recipes/mbpo.yaml", *args, "--run-dir", str(whole)) == 0
    assert (
        compose_run(monkeypatch, "15:once", "recipes/mbpo.yaml", *args, "--run-dir", str(parts))
        == 130
    )
    b_hash = json.loads((parts / "summary.json").read_text())["aim_run_hash"]
    assert active(repo, b_hash) is False  # interrupted: Aim's record is closed
    assert compose_run(monkeypatch, "43:twice", "--resume", str(parts)) == 130
    assert json.loads((parts / "summary.json").read_text())["status"] == "aborted"
    assert compose_run(monkeypatch, None, "--resume", str(parts)) == 0

    a = json.loads((whole / "summary.json").read_text())
    b = json.loads((parts / "summary.json").read_text())
    assert b["aim_run_hash"] == b_hash != a["aim_run_hash"]
    assert b["status"] == "finished" and b["steps"] == 50
    assert active(repo, a["aim_run_hash"]) is False and active(repo, b_hash) is False
    sa, sb = aim_series(repo, a["aim_run_hash"]), aim_series(repo, b_hash)
    assert any(name.startswith("rollout/") for name, _ in sa)
    assert sa.keys() == sb.keys(), sorted(set(sa) ^ set(sb))
    for key in sa:
        steps_a, steps_b = [s for s, _ in sa[key]], [s for s, _ in sb[key]]
        assert steps_a == steps_b, (key, steps_a, steps_b)
        if key[0] not in WALL_CLOCK:
            assert sa[key] == sb[key], key
