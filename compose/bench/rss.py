"""(e) Peak resident memory of a MOPO run, measured on a child process.

First choice: a real, short ``compose run`` of recipes/mopo.yaml (reduced model updates and
policy steps, one full-size rollout round, no tracking, no model cache); its peak RSS is the
child's ``ru_maxrss``, read by a small launcher process that started it (see ``_LAUNCHER``). If that command fails, the fallback child
(``python -m compose.bench.rss``) builds the parts, fits the normalizers, runs one rollout
round and the updates, and the report says so.
Why a child process: ``ru_maxrss`` is a high-water mark of a whole process; measuring in
the bench's own process would count every earlier case.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RssResult", "measure_rss"]


@dataclass
class RssResult:
    """Peak RSS in MiB (None when both ways failed), how it was measured, details."""

    mib: float | None
    how: str
    seconds: float
    detail: str = ""


#: Runs argv[1:] and reports its peak RSS. Why a launcher: a child's ``ru_maxrss`` counts
#: the high-water mark of the address space it was exec'd from (Linux records the old mm's
#: peak at exec, and ``subprocess`` forks or vforks from this process), so a child started by
#: the bench would report at least the bench's own RSS (1085 MiB in session 2, 2451 MiB
#: after case g, for a run whose own peak is ~640 MiB). The launcher is a fresh, small
#: process; its child's peak is the run's own.
_MARKER = "__compose_bench_child_maxrss_kib__"
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[1:])\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    f"print('\\n{_MARKER}', usage.ru_maxrss, flush=True)\n"
    "sys.exit(rc)\n"
)


def _wait_rss(
    cmd: list[str], timeout: float, env: dict[str, str] | None
) -> tuple[int, float, float, str]:
    """(return code, peak RSS MiB, seconds, tail of the output) of ``cmd``, run by the launcher."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, *cmd],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                status = 124 << 8
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read().decode(errors="replace")
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0
    peak = usage.ru_maxrss  # fallback: the launcher's own (an over-estimate)
    lines = text.rstrip("\n").split("\n")
    if lines and lines[-1].startswith(_MARKER) and lines[-1][len(_MARKER) :].strip().isdigit():
        peak = int(lines[-1][len(_MARKER) :])
        text = "\n".join(lines[:-1]).rstrip("\n") + "\n"
    return proc.returncode, peak / scale, time.perf_counter() - t0, text[-2000:]


def run_overrides(dataset_id: str, shapes: object, threads: int) -> list[str]:
    """``--set`` overrides that shorten a MOPO run to one rollout round and a few updates."""
    return [
        f"dataset.id={dataset_id}",
        f"train.steps={shapes.rss_steps}",  # type: ignore[attr-defined]
        f"model_learner.max_updates={shapes.rss_model_updates}",  # type: ignore[attr-defined]
        "model_learner.max_epochs=1",
        "runtime.model_cache=null",
        f"runtime.threads={threads}",
        "eval.episodes=1",
        "eval.final_episodes=1",
        "eval.every=1000000000",
        "checkpoint.every=1000000000",
        *shapes.overrides,  # type: ignore[attr-defined]
    ]


def measure_rss(
    dataset_id: str,
    shapes_name: str,
    threads: int,
    device: str,
    timeout: float = 1200.0,
    overrides: tuple[str, ...] = (),
) -> RssResult:
    """Peak RSS of a short real ``compose run`` of MOPO (fallback: the probe below)."""
    from compose.bench.harness import SHAPES

    shapes = SHAPES[shapes_name]
    env = dict(os.environ)
    failures: list[str] = []
    total = 0.0
    # recipes/mopo.yaml as it is; then without spectral norm (same memory footprint: the
    # rollout and the buffers dominate) in case the model phase fails with it.
    for extra, label in (((), ""), (("dynamics.spectral_norm=false",), ", spectral_norm off")):
        with tempfile.TemporaryDirectory(prefix="compose-bench-") as tmp:
            cmd = [
                sys.executable,
                "-m",
                "compose.cli",
                "run",
                "mopo",
                "--no-track",
                "--run-dir",
                str(Path(tmp) / "run"),
                "--device",
                device,
            ]
            for o in [*run_overrides(dataset_id, shapes, threads), *overrides, *extra]:
                cmd += ["--set", o]
            rc, mib, secs, tail = _wait_rss(cmd, timeout, env)
        total += secs
        if rc == 0:
            why = f"; earlier: {'; '.join(failures)}" if failures else ""
            return RssResult(
                mib,
                "compose run recipes/mopo.yaml (short: "
                f"{shapes.rss_steps} steps, 1 rollout round{label}){why}",
                total,
            )
        last = " | ".join(tail.strip().splitlines()[-2:])
        failures.append(f"compose run{label} failed (exit {rc}: {last[-300:]})")
    probe = [
        sys.executable,
        "-m",
        "compose.bench.rss",
        "--dataset",
        dataset_id,
        "--shapes",
        shapes_name,
        "--threads",
        str(threads),
        "--device",
        device,
    ]
    rc2, mib2, secs2, tail2 = _wait_rss(probe, timeout, env)
    total += secs2
    why = "; ".join(failures)
    if rc2 == 0:
        return RssResult(mib2, f"probe: build parts + 1 rollout round + updates ({why})", total)
    last = " | ".join(tail2.strip().splitlines()[-3:])
    return RssResult(None, f"not measured: {why}; probe exit {rc2}: {last}", total)


def _probe(argv: list[str] | None = None) -> None:
    """The fallback child: build MOPO, fit normalizers, one rollout round, N updates."""
    parser = argparse.ArgumentParser(prog="python -m compose.bench.rss")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--shapes", default="reference")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)

    import torch

    from compose.bench.harness import SHAPES, PolicyHarness, load_bench_recipe, make_parts
    from compose.data.loading import load_minari
    from compose.train.runtime import resolve_device

    torch.set_num_threads(args.threads)
    shapes = SHAPES[args.shapes]
    device = resolve_device(args.device)
    data = load_minari(args.dataset, download=False).to(device)
    recipe = load_bench_recipe("mopo", args.dataset, shapes, tuple(args.overrides))
    parts = make_parts(recipe, data, device)
    # PolicyHarness fills the model buffer with one round of fill_starts: make it a full round.
    harness = PolicyHarness(parts, recipe, recipe.train.batch_size, recipe.rollout.batch_size)
    for i in range(shapes.rss_steps):
        harness.step(i)


if __name__ == "__main__":
    _probe()
