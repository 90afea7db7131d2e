"""Aim runs are written to a real repo and read back with Aim's own SDK."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from compose.track import NullTracker, SafeTracker
from compose.track.aim_tracker import AimTracker, git_commit
from tests.helpers.runs import metric_values, read_run


def test_params_and_metrics_read_back_with_aim_sdk(tmp_path: Path) -> None:
    repo_dir = tmp_path / "aimrepo"
    tracker = AimTracker(str(repo_dir), experiment="mopo-test", tags=["ci", "tiny"])
    resolved = {"name": "mopo-test", "rollout": {"length": 5}, "critic": {"lr": 3e-4}}
    tracker.params({"recipe": resolved, "dataset": {"id": "compose/pendulum/medium-v0"}})
    for step in (10, 20, 30):
        tracker.metrics({"critic_target/loss_critic": step / 10, "bad": float("nan")}, step)
    run_hash = tracker.run_hash
    tracker.close()

    # resuming appends to the same run
    again = AimTracker(str(repo_dir), run_hash=run_hash, tags=["ci"])
    again.metrics({"critic_target/loss_critic": 4.0}, 40)
    assert again.run_hash == run_hash
    again.close()

    run = read_run(repo_dir, run_hash)
    assert run["recipe"] == resolved
    assert run["dataset"]["id"] == "compose/pendulum/medium-v0"
    assert run.experiment == "mopo-test"
    assert sorted(run.props.tags) == ["ci", "tiny"]
    assert metric_values(run, "critic_target/loss_critic") == [
        (10, 1.0),
        (20, 2.0),
        (30, 3.0),
        (40, 4.0),
    ]
    assert "bad" not in {m.name for m in run.metrics()}  # non-finite values are not tracked


def test_safe_tracker_swallows_failures_once() -> None:
    class Broken(NullTracker):
        def metrics(self, values, step, context=None):  # type: ignore[no-untyped-def]
            raise OSError("disk full")

    stream = io.StringIO()
    safe = SafeTracker(Broken(), stream=stream)
    safe.metrics({"a": 1.0}, 1)
    safe.metrics({"a": 2.0}, 2)
    safe.close()
    assert stream.getvalue().count("tracking failed") == 1
    assert "disk full" in stream.getvalue()


def test_git_commit_is_a_sha_in_this_checkout() -> None:
    commit = git_commit()
    assert commit is None or len(commit.split("+")[0]) == 40


def _start_run(repo: str) -> str:
    from compose.track.aim_tracker import AimTracker

    tracker = AimTracker(repo, experiment="race")
    tracker.close()
    return str(tracker.run_hash)


def test_runs_starting_together_share_one_new_repo(tmp_path: Path) -> None:
    """Several processes creating the same fresh repo at once all track into it."""
    import multiprocessing as mp

    repo = str(tmp_path / "aim")
    with mp.get_context("spawn").Pool(3) as pool:
        hashes = pool.map(_start_run, [repo] * 3)
    assert len(set(hashes)) == 3 and all(h and h != "None" for h in hashes)
    import aim

    assert aim.Repo.exists(repo)


def test_default_dot_aim_path_is_a_working_repo(tmp_path: Path, monkeypatch: Any) -> None:
    """The default ``track.repo: .aim`` names Aim's own folder: runs land in <cwd>/.aim."""
    from compose.track.aim_tracker import AimTracker

    monkeypatch.chdir(tmp_path)
    tracker = AimTracker(".aim", experiment="default")
    tracker.metrics({"eval/return": 1.5}, 3)
    tracker.close()
    assert (tmp_path / ".aim" / "VERSION").is_file() and not (tmp_path / ".aim" / ".aim").exists()
    assert metric_values(read_run(tmp_path, str(tracker.run_hash)), "eval/return") == [(3, 1.5)]


def test_git_commit_only_for_the_top_of_a_checkout(tmp_path: Path) -> None:
    """None outside any checkout, and None inside a repository whose top is elsewhere (an
    installed package inside another project's checkout must not report that commit)."""
    root = Path(__file__).resolve().parents[2]
    assert git_commit(tmp_path) is None
    assert git_commit(root / "compose") is None


def test_a_closed_run_reads_as_ended_without_reindexing(tmp_path: Path) -> None:
    """Aim's SDK reads runs from the repo's index: a closed run must be there, ended, both when
    nothing indexed it before and when ``aim up`` indexed it while it ran (and when resumed)."""
    import aim
    from aim.sdk.index_manager import RepoIndexManager

    repo_dir = tmp_path / "aim"
    never = AimTracker(str(repo_dir), experiment="ended")
    never.metrics({"eval/return": 1.0}, 1)
    never.close()
    seen = AimTracker(str(repo_dir), experiment="ended")
    seen.metrics({"eval/return": 2.0}, 1)
    RepoIndexManager.get_index_manager(aim.Repo(str(repo_dir))).index(str(seen.run_hash))
    assert aim.Repo(str(repo_dir)).get_run(str(seen.run_hash)).active  # as the UI saw it
    seen.close()
    again = AimTracker(str(repo_dir), run_hash=seen.run_hash)  # a resumed run
    again.metrics({"eval/return": 3.0}, 2)
    again.close()

    fresh = aim.Repo(str(repo_dir))  # a script reading the repo, no `aim up` running
    for tracker in (seen, never):
        run = fresh.get_run(str(tracker.run_hash))
        assert run is not None and run.active is False and run.end_time is not None
    assert {r.hash: r.active for r in fresh.iter_runs()} == {
        never.run_hash: False,
        seen.run_hash: False,
    }
