"""The run directory: its layout, its lock, the overwrite rule and the checkpoint pair.

Layout of one run (``RUN_DIR``)::

    recipe.yaml          the resolved recipe (what ``--resume`` reloads)
    checkpoint.pt        the newest checkpoint
    checkpoint.prev.pt   the one before it (the fallback when the newest cannot be read)
    summary.json         status, steps, scores, timings (rewritten on every exit)
    .lock                held (``fcntl.flock``) by the process using the directory; its PID

A seed batch (``compose run --seeds``) holds ``seeds.json`` and one such directory per seed,
``seed_<s>/``.
Why one module: the names were string literals in the CLI, the trainer, the seed batch and
the sweep; the rules that protect a run (one process at a time, never silently replace a
run, keep a readable checkpoint) need them in one place. It imports torch only to read or
write a checkpoint, so the sweep can use it without loading torch.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHECKPOINT",
    "LOCK",
    "PREVIOUS_CHECKPOINT",
    "RECIPE",
    "SEEDS",
    "SUMMARY",
    "RunDir",
    "RunDirBusy",
    "RunDirError",
]

CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint.prev.pt"
SUMMARY = "summary.json"
RECIPE = "recipe.yaml"
SEEDS = "seeds.json"
LOCK = ".lock"
#: Suffix a newest checkpoint that could not be read is moved to (kept for inspection).
UNREADABLE = ".unreadable"


class RunDirError(Exception):
    """The run directory cannot be used as asked (the message says why and what to do)."""


class RunDirBusy(RunDirError):
    """Another live process holds the run directory's lock."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class RunDir:
    """One run's directory (it may not exist yet)."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # -- layout ---------------------------------------------------------------------------
    @property
    def checkpoint(self) -> Path:
        """The newest checkpoint."""
        return self.path / CHECKPOINT

    @property
    def previous_checkpoint(self) -> Path:
        """The checkpoint before the newest (the fallback)."""
        return self.path / PREVIOUS_CHECKPOINT

    @property
    def summary(self) -> Path:
        """``summary.json``."""
        return self.path / SUMMARY

    @property
    def recipe(self) -> Path:
        """The resolved recipe the run was started with."""
        return self.path / RECIPE

    @property
    def seeds_index(self) -> Path:
        """A seed batch's index (``seeds.json``)."""
        return self.path / SEEDS

    @property
    def lock_file(self) -> Path:
        """The lock file (its content: the holder's PID)."""
        return self.path / LOCK

    def seed(self, seed: int) -> RunDir:
        """Seed ``seed``'s directory of a seed batch."""
        return RunDir(self.path / f"seed_{seed}")

    def is_batch(self) -> bool:
        """Whether this is a seed batch's directory (it holds ``seeds.json``)."""
        return self.seeds_index.is_file()

    def batch_seeds(self) -> list[int]:
        """The seeds of a seed batch (from ``seeds.json``)."""
        try:
            return [int(s) for s in json.loads(self.seeds_index.read_text())["seeds"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunDirError(
                f"{self.seeds_index} is unreadable ({type(exc).__name__}: {exc}); resume the "
                f"seeds one by one: compose run --resume {self.path}/seed_<s>"
            ) from None

    def has_checkpoint(self) -> bool:
        """Whether a checkpoint (newest or previous) exists."""
        return self.checkpoint.is_file() or self.previous_checkpoint.is_file()

    def read_summary(self) -> dict[str, Any] | None:
        """``summary.json``, or None when absent or unreadable."""
        try:
            out = json.loads(self.summary.read_text())
        except (OSError, ValueError):
            return None
        return out if isinstance(out, dict) else None

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Write ``summary.json`` (through a temporary file: never half-written)."""
        self._write_text(self.summary, json.dumps(summary, indent=2))

    def write_index(self, index: dict[str, Any]) -> None:
        """Write a seed batch's ``seeds.json``."""
        self._write_text(self.seeds_index, json.dumps(index, indent=2))

    def write_recipe(self, text: str) -> None:
        """Write the resolved recipe."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._write_text(self.recipe, text)

    @staticmethod
    def _write_text(path: Path, text: str) -> None:
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)

    # -- the overwrite rule ---------------------------------------------------------------
    def previous_run(self) -> str | None:
        """What earlier run this directory holds, in words (None: nothing to lose)."""
        if self.is_batch():
            return f"a seed batch ({SEEDS}: seeds {self._seeds_text()})"
        summary = self.read_summary()
        if summary is not None:
            return (
                f"a run ({SUMMARY}: status {summary.get('status')!r}, step {summary.get('steps')})"
            )
        if self.has_checkpoint():
            return "a run's checkpoint"
        seeds = sorted(p.name for p in self.path.glob("seed_*") if RunDir(p).previous_run())
        if seeds:
            return f"seed runs ({', '.join(seeds)})"
        return None

    def _seeds_text(self) -> str:
        try:
            return ", ".join(map(str, self.batch_seeds()))
        except RunDirError:
            return "?"

    def refuse_previous_run(self) -> None:
        """Raise :class:`RunDirError` if a fresh run here would replace an earlier one."""
        held = self.previous_run()
        if held is not None:
            raise RunDirError(
                f"run directory {self.path} already holds {held}; a new run would replace it. "
                f"Continue it with `compose run --resume {self.path}`, choose another "
                "--run-dir, or pass --overwrite to replace it"
            )

    def clear(self) -> None:
        """Remove an earlier run's files (ours only: other files are left alone)."""
        names = (CHECKPOINT, PREVIOUS_CHECKPOINT, CHECKPOINT + UNREADABLE, SUMMARY, RECIPE, SEEDS)
        for name in names:
            (self.path / name).unlink(missing_ok=True)
        for sub in self.path.glob("seed_*"):
            if sub.is_dir():
                RunDir(sub).clear()
        self.remove_litter()

    def remove_litter(self) -> None:
        """Delete temporary files a killed process left mid-write (``.checkpoint.pt.tmp-*``)."""
        for name in (CHECKPOINT, PREVIOUS_CHECKPOINT, SUMMARY, RECIPE, SEEDS):
            for tmp in self.path.glob(f".{name}.tmp-*"):
                tmp.unlink(missing_ok=True)

    # -- checkpoints ----------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> Path:
        """Write the newest checkpoint atomically, the one it replaces kept as the previous."""
        from compose.train.checkpoint import atomic_save

        atomic_save(state, self.checkpoint, previous=self.previous_checkpoint)
        return self.checkpoint

    def load_checkpoint(
        self, device: torch.device | str, say: Callable[[str], None] = print
    ) -> tuple[dict[str, Any], Path]:
        """The newest readable checkpoint and its path: the newest, else the previous.

        A newest checkpoint that cannot be read is moved aside (``checkpoint.pt.unreadable``)
        when the previous one is used, so the next save does not keep it as the fallback.
        Raises :class:`RunDirError` naming each file and why, and what to do, when none loads.
        """
        from compose.train.checkpoint import CheckpointUnreadable, load_checkpoint

        failed: list[CheckpointUnreadable] = []
        for path in (self.checkpoint, self.previous_checkpoint):
            if not path.is_file():
                continue
            try:
                state = load_checkpoint(path, device)
                if "format" not in state or "meta" not in state:
                    raise CheckpointUnreadable(
                        path, "is not a compose run checkpoint (no format/meta entries)"
                    )
            except CheckpointUnreadable as exc:
                failed.append(exc)
                continue
            if failed:
                aside = self.checkpoint.with_name(CHECKPOINT + UNREADABLE)
                os.replace(self.checkpoint, aside)
                say(
                    f"warning: {failed[0]}; resuming from the previous checkpoint {path} "
                    f"(step {state.get('step')}); the unreadable one is kept as {aside}"
                )
            return state, path
        if not failed:
            raise RunDirError(
                f"no checkpoint in {self.path} ({CHECKPOINT} or {PREVIOUS_CHECKPOINT}); nothing "
                f"to resume: start it with `compose run RECIPE --run-dir {self.path} --overwrite`"
            )
        lines = [f"cannot resume {self.path}: no checkpoint can be read:"]
        lines += [f"  - {exc}" for exc in failed]
        if len(failed) == 1:
            lines.append("  - no previous checkpoint is kept")
        lines.append(
            f"start the run over: compose run {self.recipe} --run-dir {self.path} --overwrite"
        )
        raise RunDirError("\n".join(lines))

    # -- the lock -------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the directory's lock (one process per run directory) while inside.

        The lock is ``fcntl.flock`` on :data:`LOCK` holding the PID; the kernel releases it
        when its process dies, so a dead run's lock is simply taken. A lock file whose flock
        is still held but whose recorded PID is dead (a child that inherited the descriptor)
        is replaced. Leftover temporary files of a killed write are removed once held.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        fd = self._acquire()
        try:
            self.remove_litter()
            yield
        finally:
            try:
                if os.fstat(fd).st_ino == os.stat(self.lock_file).st_ino:
                    self.lock_file.unlink()
            except OSError:
                pass
            os.close(fd)

    def _acquire(self) -> int:
        for _ in range(5):
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _read_pid(fd)
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise RunDirError(f"cannot lock {self.lock_file}: {exc}") from None
                if holder is not None and not _pid_alive(holder):
                    self.lock_file.unlink(missing_ok=True)  # stale: take it over
                    continue
                who = f"process {holder}" if holder is not None else "another process"
                raise RunDirBusy(
                    f"run directory {self.path} is in use by {who} (another compose run or "
                    f"resume of it; lock file {self.lock_file}). Wait for it to finish, stop "
                    f"it (kill -INT {holder if holder is not None else '<pid>'}), or use "
                    "another --run-dir"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lock_file).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the file was replaced after we opened it: lock the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        raise RunDirBusy(f"could not lock {self.lock_file}: it keeps being replaced")


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 64, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
