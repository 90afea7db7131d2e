"""The Ray engine: every run of a sweep is a Ray task that runs ``compose run`` on some node.

How a run moves through the engine (``compose sweep SPEC --engine ray --storage DIR``):

1. The driver (the ``compose sweep`` process) validates every recipe, checks the Aim server
   (``track.repo: aim://HOST:PORT``) and the Ray address, and decides per run what the local
   engine decides (:func:`compose.sweep.local.decide_unit`): finished runs are skipped there.
2. Each remaining run becomes one Ray task with its resource request: ``num_cpus`` =
   the run's ``runtime.threads`` (1 when unset), ``num_gpus`` = 1 when ``runtime.device`` is
   ``cuda``. Ray places it on a node with those resources free; no scheduler of ours.
3. On its node the task (:func:`run_unit`) makes the run's dataset if the node's store lacks
   it (factory ids, under a lock on the shared store), decides again (skip, resume from
   ``checkpoint.pt``, or start), and runs the same ``compose run`` subprocess the local
   engine runs, with the same command line (:func:`compose.sweep.local.build_command`).
4. The run's exit decides its fate. 0 finished; 1 (a NaN stop, an error in the run) and 2
   (a bad recipe, a missing dataset) are deterministic given the seed: reported, never
   retried. A run killed by a signal raises :class:`RunCrashed`, and a worker or node that
   dies takes the task with it; Ray retries both (``max_retries``, ``retry_exceptions``),
   and the retried task resumes from the run's last checkpoint, exactly as
   ``compose run --resume`` does. The run's ``sweep_run.json`` lists every retry and why.
5. Ctrl-C of the driver writes a stop file (``DIR/.stop-<invocation>``) that every task
   polls: each running ``compose run`` gets SIGINT, saves a checkpoint and stops; queued
   tasks do not start. Re-running the same command resumes the sweep (finished runs are
   skipped). Why a file and not a Ray actor: a task blocked in ``ray.get`` hands its CPUs
   back to Ray, which would then start another run beside it on the same cores.

Where the state lives: everything that outlives a task is on the shared storage
(``--storage DIR``): run directories (``checkpoint.pt``, ``summary.json``,
``sweep_run.json``, ``sweep.log``), ``sweep.json``, the model cache (``DIR/models``) and the
Minari store (``DIR/datasets``). Metrics go to the one Aim server. Ray holds only what is in
flight (the task queue); losing the Ray cluster loses no run.

Why plain Ray tasks and not Ray Tune: our unit of work already is a resumable process whose
state is its run directory, so a task that runs it is all the engine there is, and both
engines leave identical run directories (``compose sweep table`` / ``plot`` read either).
Ray's task retries tell a lost worker (always retried) from an exception (retried only when
listed), which is the line between "resume it" and "a NaN stop is final"; Tune's
``FailureConfig`` retries any trial error. Tune would also keep a second record of each run
(its trial checkpoints and experiment state, restored with ``Tuner.restore``) next to ours,
its schedulers (ASHA) need metrics reported into Tune from inside the training loop, and an
early-stopped run leaves a paper table with holes. ``ray[tune]`` also pulls pandas and
pyarrow. Early stopping can come later as its own feature, on top of this engine.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose.sweep.local import (
    RUN_LOG,
    RUN_RECORD,
    Action,
    SweepOutcome,
    Unit,
    build_command,
    decide_unit,
    units_of,
)
from compose.sweep.spec import RunPlan, SweepSpec

__all__ = [
    "EngineError",
    "Job",
    "RunCrashed",
    "check_aim_server",
    "connect",
    "resources_of",
    "run_ray",
    "run_unit",
]

#: ``compose run`` exit codes that are a run's final word (never retried).
FINAL_CODES = {0: "done", 1: "failed", 2: "refused", 130: "stopped"}
#: Seconds between two looks at the stop file (Ctrl-C of the driver).
POLL_S = 1.0


class EngineError(Exception):
    """The cluster, the Aim server or the storage is not usable; the message says the fix."""


class RunCrashed(Exception):
    """``compose run`` was killed by a signal (OOM killer, a kill): retried by Ray."""


@dataclass(frozen=True)
class Job:
    """Everything a task needs to run one unit on any node (pickled by Ray)."""

    spec: SweepSpec
    unit: Unit
    threads: int
    track: bool
    steps: dict[str, int]
    env: dict[str, str]
    dataset: dict[str, Any] | None
    invocation: str
    planned_steps: int | None = None

    @property
    def stop_file(self) -> Path:
        """Written by the driver on Ctrl-C (in the sweep directory, which every node sees)."""
        return stop_file(self.unit.plans[0].run_dir, self.unit.batched, self.invocation)


def stop_file(run_dir: Path, batched: bool, invocation: str) -> Path:
    """``DIR/.stop-<invocation>`` for a run directory of the sweep directory ``DIR``."""
    sweep_dir = run_dir.parent.parent if batched else run_dir.parent
    return sweep_dir / f".stop-{invocation}"


# -- checks before anything is placed --------------------------------------------------------
def check_aim_server(repo: str, timeout: float = 5.0) -> str:
    """The version of the Aim server at ``aim://HOST:PORT``; :class:`EngineError` if unreachable.

    Aim's server answers ``GET /status/`` and ``GET /client/get-version/`` (the same probe
    its own client makes before tracking).
    """
    address = repo.removeprefix("aim://").rstrip("/")
    if not re.fullmatch(r"[^:/\s]+:\d+", address):
        raise EngineError(
            f"track.repo {repo!r} is not aim://HOST:PORT; start `aim server --host "
            "HOST --port PORT --repo DIR` and give --set track.repo=aim://HOST:PORT"
        )
    host, port = address.rsplit(":", 1)
    fix = (
        f"start it with `aim server --host {host} --port {port} --repo DIR` on that machine "
        "(the sweep starts none), or run with --no-track"
    )
    try:
        with urllib.request.urlopen(f"http://{address}/status/", timeout=timeout) as resp:
            if resp.status != 200:
                raise EngineError(f"the Aim server at {repo} answered {resp.status}; {fix}")
        with urllib.request.urlopen(
            f"http://{address}/client/get-version/", timeout=timeout
        ) as resp:
            version = str(json.loads(resp.read().decode()).get("version", "?"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EngineError(f"cannot reach the Aim server at {repo} ({reason}); {fix}") from None
    return version


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of ``HOST:PORT`` or ``ray://HOST:PORT``; None for ``auto``/``local``."""
    m = re.fullmatch(r"(?:ray://)?\[?([^\]\s/]+?)\]?:(\d+)", address)
    return (m.group(1), int(m.group(2))) if m else None


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _current_cluster() -> str | None:
    """The address ``ray start`` left for ``--address auto`` (Ray's temp dir), if any."""
    tmp = os.environ.get("RAY_TMPDIR", "/tmp")
    try:
        return (Path(tmp) / "ray" / "ray_current_cluster").read_text().strip() or None
    except OSError:
        return None


def connect(address: str, timeout: float = 10.0) -> dict[str, Any]:
    """``ray.init`` the driver on the cluster at ``address``; the cluster's resources.

    ``auto``: the cluster ``ray start`` started on this machine; ``HOST:PORT``: the head's GCS
    (the driver runs on a cluster node); ``ray://HOST:PORT``: Ray Client, from anywhere.
    A loopback head (``127.0.0.1``) is a one-machine cluster bound to loopback only; Ray
    rewrites loopback addresses to the machine's external one unless
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (its single-machine mode), so that is set here.
    """
    target = address
    if address == "auto":
        target = _current_cluster() or ""
        if not target:
            raise EngineError(
                "no Ray cluster found on this machine (--address auto); start one with "
                "`ray start --head --port=6379` (README: Running on a cluster), or give "
                "--address HOST:PORT / ray://HOST:PORT"
            )
    hp = _host_port(target)
    if hp is None:
        raise EngineError(f"--address {address!r}: expected auto, HOST:PORT or ray://HOST:PORT")
    host, port = hp
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise EngineError(
            f"cannot reach the Ray cluster at {target} ({exc.strerror or exc}); start its head "
            f"with `ray start --head --port={port}` or give the right --address"
        ) from None
    if _is_loopback(host) and not target.startswith("ray://"):
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray

    try:
        ray.init(address=target, log_to_driver=False, logging_level=logging.ERROR)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, grpc errors ...
        raise EngineError(
            f"cannot connect to the Ray cluster at {target}: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    return dict(ray.cluster_resources())


def resources_of(facts: dict[str, Any]) -> tuple[int, int]:
    """(CPUs, GPUs) a run asks Ray for: its ``runtime.threads`` (1 if unset), 1 GPU on cuda."""
    threads = facts.get("threads") or 1
    return int(threads), 1 if facts.get("device") == "cuda" else 0


def _check_fits(jobs: list[tuple[Job, int, int]]) -> list[str]:
    """Runs whose request no live node can ever satisfy (Ray would queue them forever)."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    most_cpu = max((r.get("CPU", 0) for r in nodes), default=0)
    problems = []
    for job, cpus, gpus in jobs:
        if not any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus for r in nodes):
            need = f"{cpus} CPU" + (f" and {gpus} GPU" if gpus else "")
            problems.append(
                f"{job.unit.name}: asks for {need} (runtime.threads={cpus}"
                + (", runtime.device=cuda" if gpus else "")
                + f") but no node of the cluster has that (largest: {most_cpu:g} CPU); "
                "lower runtime.threads with --set, or add a node that has it"
            )
    return problems


# -- on the node: one task -------------------------------------------------------------------
def _child_setup() -> None:
    """In the child, before exec: SIGINT works again, and the child dies with its worker.

    Ray starts its workers with SIGINT blocked; a blocked (or ignored) SIGINT would be
    inherited by ``compose run``, which then could not be asked to checkpoint and stop.
    SIGKILL on the worker's death (Linux): a lost worker's task is retried elsewhere and
    resumes the run directory; an orphaned ``compose run`` still writing into it would race
    with the retry.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    parent = os.getppid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _read_record(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_record(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, path)


def _resumed_step(log_path: Path, start: int) -> int | None:
    """The step ``compose run --resume`` said it resumed from (``resumed from F at step N``).

    Read from this attempt's part of the log, whitespace removed (the console wraps lines).
    """
    try:
        with open(log_path, "rb") as fh:
            fh.seek(start)
            text = re.sub(r"\s+", "", fh.read().decode(errors="replace"))
    except OSError:
        return None
    found = re.findall(r"resumedfrom\S*?atstep(\d+)", text)
    return int(found[-1]) if found else None


def _retry_reason(prev: dict[str, Any], invocation: str) -> str | None:
    """Why this attempt is a retry of the previous one of the same sweep invocation, if it is."""
    if prev.get("invocation") != invocation or "worker_pid" not in prev:
        return None
    where = f"pid {prev.get('worker_pid')} on {prev.get('node', '?')}"
    code = prev.get("exit_code")
    if code is None:
        return f"worker lost ({where})"
    if isinstance(code, int) and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"compose run killed by {name} ({where})"
    return None


def _store(job: Job) -> Path:
    env = job.env.get("MINARI_DATASETS_PATH") or os.environ.get("MINARI_DATASETS_PATH")
    return Path(env) if env else Path.home() / ".minari" / "datasets"


_ENSURE = (
    "import sys\n"
    "from compose.data.errors import DatasetError\n"
    "from compose.data.loading import ensure_local\n"
    "try:\n"
    "    ensure_local(sys.argv[1], download=sys.argv[2] == '1', seed=int(sys.argv[3]))\n"
    "except DatasetError as exc:\n"
    "    print(f'error: {exc}', file=sys.stderr)\n"
    "    sys.exit(2)\n"
)


def ensure_dataset(job: Job, log: Any, env: dict[str, str]) -> str | None:
    """Make the run's dataset on this node if its store lacks it; an error line, or None.

    Factory ids (``compose/<env>/<quality>-v0``) are deterministic, so any node may make
    them; the store is shared, so one node makes each under a lock and the others wait and
    then read it. A D4RL file must already be on a path this node sees.
    """
    ds = job.dataset or {}
    host = socket.gethostname()
    if ds.get("source") == "d4rl_hdf5":
        path = Path(str(ds.get("path", "")))
        if not path.is_file():
            return (
                f"error: dataset file {path} is not visible on node {host}; put it on the "
                "shared storage (--storage) and give that path in dataset.path"
            )
        return None
    if ds.get("source") != "minari" or not ds.get("id"):
        return None
    dataset_id = str(ds["id"])
    store = _store(job)
    data_file = store / dataset_id / "data" / "main_data.hdf5"
    if data_file.is_file():
        return None
    locks = store / ".compose-locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / (re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset_id) + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if data_file.is_file():
            return None
        log.write(f"\n$ (node {host}) making dataset {dataset_id} in {store}\n".encode())
        log.flush()
        code = subprocess.call(
            [
                sys.executable,
                "-c",
                _ENSURE,
                dataset_id,
                "1" if ds.get("download", True) else "0",
                str(ds.get("seed", 0)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    if code != 0:
        return (
            f"error: dataset {dataset_id!r} is not in the store {store} on node {host} and "
            f"could not be made there (exit {code}); make it once with `MINARI_DATASETS_PATH="
            f"{store} compose data make ENV QUALITY` (or copy it there)"
        )
    return None


def _log_tail(path: Path, start: int, lines: int = 4) -> str:
    """The last error lines this attempt wrote to the run's log."""
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    keep = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in keep if ln.startswith("error")]
    return " | ".join((errors or keep)[-lines:])


def run_unit(job: Job) -> dict[str, Any]:
    """The body of one Ray task: run (or resume, or skip) one unit on this node.

    Returns ``{code, action, reason, retries, node, tail}``; raises :class:`RunCrashed` when
    ``compose run`` was killed by a signal (Ray then retries the task).
    """

    def is_stopped() -> bool:
        return job.stop_file.exists()

    unit = job.unit
    unit.run_dir.mkdir(parents=True, exist_ok=True)
    record_path = unit.run_dir / RUN_RECORD
    prev = _read_record(record_path)
    retries = list(prev.get("retries", [])) if prev.get("invocation") else []
    reason = _retry_reason(prev, job.invocation)
    if reason is not None:
        retries.append({"reason": reason, "time": time.time(), "from_step": None})
    node = socket.gethostname()
    result: dict[str, Any] = {
        "code": None,
        "action": "start",
        "reason": "",
        "retries": retries,
        "node": node,
        "tail": "",
    }
    if is_stopped():
        return result
    env = dict(
        os.environ, **job.env, OMP_NUM_THREADS=str(job.threads), MKL_NUM_THREADS=str(job.threads)
    )
    log_path = unit.run_dir / RUN_LOG
    with open(log_path, "ab") as log:
        start = log.tell()
        problem = ensure_dataset(job, log, env)
        if problem is not None:
            log.write(f"{problem}\n".encode())
            result.update(code=2, action="start", reason="dataset", tail=problem)
            _write_record(
                record_path,
                {
                    "invocation": job.invocation,
                    "action": "start",
                    "reason": "dataset",
                    "exit_code": 2,
                    "node": node,
                    "worker_pid": os.getpid(),
                    "retries": retries,
                    "ended": time.time(),
                },
            )
            return result
        action = decide_unit(unit, job.steps)
        result.update(action=action.kind, reason=action.reason)
        if action.kind == "skip":
            result["code"] = 0
            return result
        cmd = build_command(job.spec, unit, action, job.threads, job.track, job.planned_steps)
        log.write(f"\n$ (node {node}) {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_child_setup,
        )
        record: dict[str, Any] = {
            "engine": "ray",
            "invocation": job.invocation,
            "command": cmd,
            "action": action.kind,
            "reason": action.reason,
            "threads": job.threads,
            "node": node,
            "worker_pid": os.getpid(),
            "pid": proc.pid,
            "started": time.time(),
            "retries": retries,
        }
        _write_record(record_path, record)
        code = _wait(proc, is_stopped)
    if reason is not None:
        retries[-1]["from_step"] = _resumed_step(log_path, start)
    record.update(exit_code=code, ended=time.time(), retries=retries)
    _write_record(record_path, record)
    result["code"] = code
    if code < 0:
        raise RunCrashed(f"{unit.name}: compose run was killed by signal {-code} on {node}")
    if code not in (0, 130):
        result["tail"] = _log_tail(log_path, start)
    return result


def _wait(proc: subprocess.Popen[bytes], is_stopped: Callable[[], bool]) -> int:
    """Wait for ``compose run``; on a stop request, SIGINT it (it checkpoints and exits 130)."""
    asked = False
    while True:
        try:
            code = proc.wait(timeout=POLL_S)
            # SIGINT before the run's own handler was up (still importing): a stop, not a crash.
            return 130 if asked and code == -signal.SIGINT else code
        except subprocess.TimeoutExpired:
            pass
        except KeyboardInterrupt:  # ray.cancel of a running task: the same as a stop
            proc.send_signal(signal.SIGINT)
            asked = True
        if not asked and is_stopped():
            proc.send_signal(signal.SIGINT)
            asked = True


# -- the driver ------------------------------------------------------------------------------
def run_ray(
    spec: SweepSpec,
    plans: list[RunPlan],
    *,
    facts: dict[str, dict[str, Any]],
    track: bool,
    env: dict[str, str],
    planned_steps: dict[str, int] | None = None,
    retries: int = 3,
    echo: Callable[[str], None] = print,
) -> SweepOutcome:
    """Place every run that is not finished on the (connected) Ray cluster; wait for all.

    ``facts``: :func:`compose.sweep.spec.run_facts` per run name; ``env``: variables every
    run gets (the shared Minari store). Ctrl-C: see the module docstring.
    """
    import ray

    steps = planned_steps or {}
    invocation = uuid.uuid4().hex
    results: dict[str, tuple[Action, int | None]] = {}
    todo: list[tuple[Job, Action, int, int]] = []
    for unit in units_of(spec, plans):
        action = decide_unit(unit, steps)
        for plan in unit.plans:
            results[plan.name] = (action, None)
        if action.kind == "skip":
            echo(f"skip   {unit.name} ({action.reason})")
            continue
        fact = facts.get(unit.plans[0].name, {})
        cpus, gpus = resources_of(fact)
        job = Job(
            spec=spec,
            unit=unit,
            threads=cpus,
            track=track,
            steps=steps,
            env=env,
            dataset=fact.get("dataset"),
            invocation=invocation,
            planned_steps=steps.get(unit.plans[0].name),
        )
        todo.append((job, action, cpus, gpus))
    problems = _check_fits([(j, c, g) for j, _, c, g in todo])
    if problems:
        raise EngineError("\n".join(problems))
    task = ray.remote(run_unit)
    refs: dict[Any, tuple[Job, Action]] = {}
    for job, action, cpus, gpus in todo:
        ref = task.options(
            num_cpus=cpus,
            num_gpus=gpus,
            max_retries=retries,
            retry_exceptions=[RunCrashed],
            name=f"compose:{job.unit.name}",
        ).remote(job)
        refs[ref] = (job, action)
        what = f"{action.kind} ({action.reason})" if action.kind == "resume" else action.kind
        echo(f"queued {job.unit.name}: {what}; {cpus} CPU" + (f", {gpus} GPU" if gpus else ""))
    interrupted = False
    pending = list(refs)
    while pending:
        try:
            done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
        except KeyboardInterrupt:
            if interrupted:  # a second Ctrl-C: stop now (each run keeps its last checkpoint)
                for ref in pending:
                    ray.cancel(ref, force=True)
                break
            interrupted = True
            for path in {job.stop_file for job, _ in refs.values()}:
                path.touch()
            echo(
                "interrupt: asking the running runs to save a checkpoint and stop; "
                "re-run the same sweep command to resume (Ctrl-C again: stop now)"
            )
            continue
        for ref in done:
            job, action = refs[ref]
            code = _report(ref, job, echo)
            for plan in job.unit.plans:
                results[plan.name] = (action, code)
    for path in {job.stop_file for job, _ in refs.values()}:
        path.unlink(missing_ok=True)
    return SweepOutcome(results, interrupted)


def _report(ref: Any, job: Job, echo: Callable[[str], None]) -> int | None:
    """The exit code of a finished task, echoed with its node, retries and error lines."""
    import ray
    from ray.exceptions import RayTaskError, TaskCancelledError

    name, log = job.unit.name, job.unit.run_dir / RUN_LOG
    try:
        res = ray.get(ref)
    except TaskCancelledError:
        echo(f"stopped {name} (cancelled)")
        return None
    except RayTaskError as exc:  # RunCrashed after the last retry, or a bug in the task
        echo(f"crashed {name}: {str(exc).strip().splitlines()[-1]} (retries exhausted; log {log})")
        return -1
    except Exception as exc:  # the worker or node died on the last retry too
        echo(f"crashed {name}: {type(exc).__name__} (retries exhausted; log {log})")
        return -1
    code = res["code"]
    for r in res.get("retries", []):
        echo(f"retried {name}: {r['reason']}, resumed from step {r.get('from_step')}")
    if code is None:
        echo(f"stopped {name} (not started)")
        return None
    if res["action"] == "skip":
        echo(f"skip   {name} ({res['reason']})")
        return 0
    word = FINAL_CODES.get(code, "crashed")
    tail = f": {res['tail']}" if res.get("tail") else ""
    echo(f"{word:6} {name} (exit {code} on {res['node']}; log {log}){tail}")
    return code
