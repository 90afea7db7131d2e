"""The local engine: every run of a sweep is a ``compose run`` subprocess, J at a time.

Why subprocesses: a crash, a NaN stop or an out-of-memory kill in one run never takes the
sweep down; each run gets its own threads setting and its own log file
(``RUN_DIR/sweep.log``), and the sweep only reads what the run left on disk.

Resume rules (per run directory, so interrupting and re-running the sweep resumes it):
- ``summary.json`` says ``finished`` with at least the planned steps, or ``failed: ...``
  (a NaN stop is deterministic given the seed): skipped;
- ``finished`` with fewer steps than planned: continued with ``compose run --resume --steps``;
- a ``checkpoint.pt`` without a finished summary (Ctrl-C, a killed process): ``--resume``;
- otherwise: a fresh run.

With ``batch_seeds`` a grid point's seeds are one process (``compose run --seeds``,
``DIR/<label>-<grid key>-seeds/seed_<s>/``): it is skipped when every seed is, resumed as a
batch when every seed has a checkpoint, and started afresh otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose.sweep.spec import RunPlan, SweepSpec
from compose.train.run_dir import RunDir

__all__ = [
    "Action",
    "SweepOutcome",
    "Unit",
    "cpu_cores",
    "decide",
    "decide_unit",
    "run_local",
    "threads_per_run",
    "units_of",
]

RUN_RECORD = "sweep_run.json"
RUN_LOG = "sweep.log"


def cpu_cores() -> int:
    """Cores this process may use (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def threads_per_run(jobs: int, cores: int | None = None) -> int:
    """``runtime.threads`` for each run so that jobs x threads <= cores (at least 1)."""
    return max(1, (cores or cpu_cores()) // max(1, jobs))


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """A run's ``summary.json``, or None when absent or unreadable."""
    return RunDir(Path(run_dir)).read_summary()


@dataclass(frozen=True)
class Action:
    """What the sweep does with one run: ``skip``, ``resume`` or ``start`` (and why)."""

    kind: str
    reason: str


def decide(run_dir: Path, planned_steps: int | None) -> Action:
    """Skip, resume or start ``run_dir`` (see the module docstring)."""
    summary = read_summary(run_dir)
    status = str(summary.get("status", "")) if summary else ""
    has_ckpt = RunDir(Path(run_dir)).has_checkpoint()
    if status == "finished":
        steps = int(summary.get("steps") or 0) if summary else 0
        if planned_steps is None or steps >= planned_steps or not has_ckpt:
            return Action("skip", "finished")
        return Action("resume", f"finished at {steps} steps, {planned_steps} planned")
    if status.startswith("failed"):
        return Action("skip", status)
    if has_ckpt:
        return Action("resume", f"checkpoint found ({status or 'no summary'})")
    return Action("start", "new")


@dataclass(frozen=True)
class Unit:
    """One process of the sweep: one run, or (``batch_seeds``) one grid point's seeds."""

    name: str
    plans: tuple[RunPlan, ...]
    run_dir: Path

    @property
    def batched(self) -> bool:
        """Whether the seeds of this unit train as one batch (``compose run --seeds``)."""
        return self.run_dir != self.plans[0].run_dir


def units_of(spec: SweepSpec, plans: list[RunPlan]) -> list[Unit]:
    """The processes to run: a run each, or one per batch directory with ``batch_seeds``."""
    if not spec.batch_seeds:
        return [Unit(p.name, (p,), p.run_dir) for p in plans]
    groups: dict[Path, list[RunPlan]] = {}
    for plan in plans:
        groups.setdefault(plan.run_dir.parent, []).append(plan)
    return [Unit(d.name, tuple(ps), d) for d, ps in groups.items()]


def decide_unit(unit: Unit, steps: dict[str, int]) -> Action:
    """:func:`decide` per run; a batch resumes only when every seed has a checkpoint."""
    actions = [decide(p.run_dir, steps.get(p.name)) for p in unit.plans]
    if not unit.batched:
        return actions[0]
    if all(a.kind == "skip" for a in actions):
        return Action("skip", ", ".join(dict.fromkeys(a.reason for a in actions)))
    if all(RunDir(p.run_dir).has_checkpoint() for p in unit.plans):
        return Action(
            "resume", ", ".join(dict.fromkeys(a.reason for a in actions if a.kind != "skip"))
        )
    return Action("start", "new")


def build_command(
    spec: SweepSpec,
    unit: Unit,
    action: Action,
    threads: int,
    track: bool,
    planned_steps: int | None,
) -> list[str]:
    """The ``compose run`` command line of one unit (a run, or a batch of seeds)."""
    plan = unit.plans[0]
    cmd = [sys.executable, "-m", "compose.cli", "run"]
    if action.kind == "resume":
        cmd += ["--resume", str(unit.run_dir), "--set", f"runtime.threads={threads}"]
        if planned_steps is not None:
            cmd += ["--steps", str(planned_steps)]
    else:
        cmd.append(plan.recipe)
        cmd += ["--set", f"runtime.threads={threads}"]
        if track:
            cmd += ["--set", f"track.repo={spec_repo(spec, unit)}"]
        for o in plan.overrides:
            if not (unit.batched and o.startswith("seed=")):
                cmd += ["--set", o]
        if spec.quick:
            cmd.append("--quick")
        if spec.steps is not None:
            cmd += ["--steps", str(spec.steps)]
        if unit.batched:
            cmd += ["--seeds", *(str(p.seed) for p in unit.plans)]
        # the sweep decided there is nothing to resume here (see decide): start it over
        cmd += ["--run-dir", str(unit.run_dir), "--overwrite"]
    if not track:
        cmd.append("--no-track")
    return cmd


def spec_repo(spec: SweepSpec, unit: Unit) -> str:
    """The sweep's Aim repo: ``DIR/aim`` (a ``track.repo`` in the overrides comes later and wins)."""
    return str(unit.run_dir.parent / "aim")


@dataclass
class SweepOutcome:
    """Per-run results of one sweep invocation: name -> (action, exit code or None)."""

    results: dict[str, tuple[Action, int | None]]
    interrupted: bool = False

    def counts(self) -> dict[str, int]:
        """How many runs were skipped, finished (exit 0), failed, or not started."""
        out = {"skipped": 0, "ok": 0, "failed": 0, "not started": 0}
        for action, code in self.results.values():
            if action.kind == "skip":
                out["skipped"] += 1
            elif code is None:
                out["not started"] += 1
            elif code == 0:
                out["ok"] += 1
            else:
                out["failed"] += 1
        return out


def run_local(
    spec: SweepSpec,
    plans: list[RunPlan],
    *,
    jobs: int,
    threads: int,
    track: bool = True,
    planned_steps: dict[str, int] | None = None,
    echo: Callable[[str], None] = print,
) -> SweepOutcome:
    """Run ``plans`` with at most ``jobs`` subprocesses at a time.

    Ctrl-C (or SIGINT to the sweep) forwards SIGINT to the live runs, which save a
    checkpoint and stop; no new run starts. Re-running the same sweep resumes them.
    """
    steps = planned_steps or {}
    results: dict[str, tuple[Action, int | None]] = {}
    todo: list[tuple[Unit, Action]] = []
    for unit in units_of(spec, plans):
        action = decide_unit(unit, steps)
        for plan in unit.plans:
            results[plan.name] = (action, None)
        if action.kind == "skip":
            echo(f"skip   {unit.name} ({action.reason})")
        else:
            todo.append((unit, action))
    if track and todo:
        # Create the shared repo before any run starts (runs starting together would race).
        from compose.track.aim_tracker import ensure_repo

        repos = {spec_repo(spec, unit) for unit, _ in todo}
        for repo in repos:
            if not repo.startswith("aim://"):
                ensure_repo(repo)
    stop = threading.Event()
    live: dict[str, subprocess.Popen[bytes]] = {}
    lock = threading.Lock()

    def one(unit: Unit, action: Action) -> int | None:
        if stop.is_set():
            return None
        unit.run_dir.mkdir(parents=True, exist_ok=True)
        cmd = build_command(spec, unit, action, threads, track, steps.get(unit.plans[0].name))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        record: dict[str, Any] = {
            "command": cmd,
            "action": action.kind,
            "reason": action.reason,
            "threads": threads,
            "started": time.time(),
        }
        echo(
            f"{action.kind:6} {unit.name}"
            + (f" ({action.reason})" if action.kind == "resume" else "")
        )
        with open(unit.run_dir / RUN_LOG, "ab") as log:
            log.write(f"\n$ {' '.join(cmd)}\n".encode())
            log.flush()
            with lock:
                if stop.is_set():
                    return None
                proc = subprocess.Popen(
                    cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
                live[unit.name] = proc
            code = proc.wait()
        with lock:
            live.pop(unit.name, None)
        record.update(exit_code=code, ended=time.time())
        (unit.run_dir / RUN_RECORD).write_text(json.dumps(record, indent=2))
        word = {0: "done", 1: "failed", 2: "refused", 130: "stopped"}.get(code, "crashed")
        echo(f"{word:6} {unit.name} (exit {code}; log {unit.run_dir / RUN_LOG})")
        return code

    interrupted = False
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures: dict[Future[int | None], tuple[Unit, Action]] = {
            pool.submit(one, unit, action): (unit, action) for unit, action in todo
        }
        pending = set(futures)
        while pending:
            try:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                interrupted = True
                _stop_all(stop, lock, live, echo)
                continue
            for fut in done:
                unit, action = futures[fut]
                for plan in unit.plans:
                    results[plan.name] = (action, fut.result())
    return SweepOutcome(results, interrupted)


def _stop_all(
    stop: threading.Event,
    lock: threading.Lock,
    live: dict[str, subprocess.Popen[bytes]],
    echo: Callable[[str], None],
) -> None:
    """Ask every live run to checkpoint and stop (SIGINT); start no new run."""
    if stop.is_set():  # a second Ctrl-C: the runs stop now (their last checkpoint stays)
        with lock:
            for proc in live.values():
                proc.send_signal(signal.SIGINT)
        return
    stop.set()
    echo(
        "interrupt: asking the running runs to save a checkpoint and stop; "
        "re-run the same sweep command to resume"
    )
    with lock:
        for proc in live.values():
            proc.send_signal(signal.SIGINT)
