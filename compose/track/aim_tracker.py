"""Aim run tracking: one Aim run per training run, in a local repo or on an Aim server.

Params (:func:`compose.train.run_state.run_params`) hold every section of the resolved recipe
at the top level (so runs group and filter by any recipe field in the Aim UI and its query
language), the recipe name, the dataset with its provenance, the seed, the package version,
the project's git commit and plugin versions, and, when the run ends, its final and best
scores. Tags: the recipe name and the dataset id, plus the recipe's ``track.tags``.
Metric names are ``<slot>/<term>`` (``critic_target/loss_critic``, ``eval/normalized_score``).
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["AimTracker", "ensure_repo", "git_commit", "index_run"]


def ensure_repo(path: str | Path) -> str:
    """Create the local Aim repo at ``path`` once, even when several runs start together.

    Aim keeps a repo in ``<root>/.aim``; a path that itself ends in ``.aim`` (the default,
    ``.aim`` in the working directory) names that folder, so its parent is the root. Only the
    root is created here: an empty ``.aim`` folder made by us would read as an out-of-date repo.
    Concurrent first runs (a sweep starting two jobs) would both see no repo and both
    initialize it; an exclusive lock (in the temp dir, keyed by the root) makes the
    check-and-create atomic. Returns the root to open runs in.
    """
    import fcntl
    import hashlib
    import tempfile

    import aim

    folder = Path(path).expanduser().absolute()
    root = folder.parent if folder.name == ".aim" else folder
    root.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"compose-aim-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not aim.Repo.exists(str(root)):
            aim.Repo.from_path(str(root), init=True)
    return str(root)


def index_run(repo: Any, run_hash: str, tries: int = 20, wait_s: float = 0.1) -> bool:
    """Write the run's metadata (end time included) into the index of the local ``repo``.

    What ``aim up``'s indexer does when it sees a run change. The index is one RocksDB that
    one process at a time may write: while another (a running ``aim up``, another run
    closing) holds it, try again for up to ``tries * wait_s`` seconds. False if it stayed
    busy: then that process is ``aim up``, which indexes the run itself.
    """
    import time

    import aimrocks.errors
    from aim.sdk.index_manager import RepoIndexManager

    manager = RepoIndexManager.get_index_manager(repo)
    for _ in range(tries):
        try:
            manager.index(run_hash)
            return True
        except aimrocks.errors.RocksIOError:  # the index is open for writing elsewhere
            time.sleep(wait_s)
    return False


class AimTracker:
    """An ``aim.Run`` in ``repo`` (a folder, or ``aim://host:port``); resumes ``run_hash``."""

    def __init__(
        self,
        repo: str,
        experiment: str | None = None,
        run_hash: str | None = None,
        tags: list[str] | tuple[str, ...] = (),
    ) -> None:
        import aim

        if not repo.startswith("aim://"):
            repo = ensure_repo(repo)
        self._run = aim.Run(
            run_hash=run_hash,
            repo=repo,
            experiment=experiment if run_hash is None else None,
            system_tracking_interval=None,
            log_system_params=False,
            capture_terminal_logs=False,
        )
        existing = set(self._run.props.tags) if run_hash else set()
        for tag in tags:
            if tag not in existing:
                self._run.add_tag(tag)
        self.run_hash: str | None = self._run.hash

    def params(self, params: Mapping[str, Any]) -> None:
        """``run[key] = value`` for every top-level key."""
        for key, value in params.items():
            self._run[key] = value

    def metrics(
        self, values: Mapping[str, float], step: int, context: Mapping[str, Any] | None = None
    ) -> None:
        """Track each finite scalar under its name at ``step``."""
        for name, value in values.items():
            value = float(value)
            if math.isfinite(value):
                self._run.track(value, name=name, step=step, context=dict(context or {}))

    def close(self) -> None:
        """Finalize the run and index it, so that Aim's SDK reads it as ended.

        Why: Aim's ``Run.close()`` writes the run's end time into the run's own files only;
        ``aim.Repo(...).get_run`` and ``query_runs`` read the repo's index, where a run shows
        as it was last indexed (missing, or still active) until ``aim up`` re-indexes it.
        """
        repo, run_hash = self._run.repo, self._run.hash
        self._run.close()
        if not repo.is_remote_repo:  # an Aim server indexes its runs itself
            index_run(repo, run_hash)


def git_commit(path: Path | None = None) -> str | None:
    """The project's git commit (``+dirty`` if modified), or None outside a checkout.

    None too when ``path`` (default: the folder above the ``compose`` package) is not the top
    of its work tree: an installed package inside some other repository must not report that
    repository's commit. No git, or any git error, is None as well.
    """
    where = (path or Path(__file__).resolve().parents[2]).resolve()
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != where:
            return None
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
