"""``compose sweep --engine ray``: a real one-machine Ray cluster and a real Aim server.

The module starts ``ray start --head`` (2 CPUs, bound to 127.0.0.1) and ``aim server``
(127.0.0.1) once, each in its own process group, and ends both groups when done, even on
failure. The runs are the tiny runs of tests/train (a few seconds each).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.helpers.runs import ROOT, tiny_sets

pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

NAN = "critic.aux_losses=[{type: nan_at, at: 32}]"  # tests/train/nan_plugin: NaN at step 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_group(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """End a process group this module started: SIGTERM, then SIGKILL after ``grace``."""
    for sig, wait_s in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.time() + wait_s
        while time.time() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            proc.poll()
            time.sleep(0.2)


def wait_for(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def services(
    env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """A Ray head (2 CPUs) and an Aim server, both on 127.0.0.1; the sweep's environment."""
    tmp = tmp_path_factory.mktemp("services")
    # Ray's session dir holds Unix sockets (at most ~107 characters): a short temp dir.
    ray_tmp = tempfile.mkdtemp(prefix="cr-", dir="/tmp")
    port, aim_port = free_port(), free_port()
    run_env = dict(
        env, COMPOSE_EXTRA_PLUGINS="tests.train.nan_plugin", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0"
    )  # a loopback-only one-machine cluster
    ray_cmd = [
        str(Path(sys.executable).with_name("ray")),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=false",
        f"--temp-dir={ray_tmp}",
        "--disable-usage-stats",
        "--object-store-memory=100000000",
        f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
    ]
    aim_cmd = [
        str(Path(sys.executable).with_name("aim")),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(aim_port),
        "--repo",
        str(tmp / "aim"),
        "-y",
    ]
    (tmp / "aim").mkdir()
    started: list[subprocess.Popen[bytes]] = []
    try:
        with open(tmp / "ray.log", "wb") as ray_log, open(tmp / "aim.log", "wb") as aim_log:
            started.append(
                subprocess.Popen(
                    ray_cmd,
                    env=run_env,
                    cwd=ROOT,
                    stdout=ray_log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            started.append(
                subprocess.Popen(
                    aim_cmd,
                    env=run_env,
                    cwd=ROOT,
                    stdout=aim_log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

        def ray_up() -> bool:
            assert started[0].poll() is None, (tmp / "ray.log").read_text()[-3000:]
            return "Ray runtime started" in (tmp / "ray.log").read_text()

        def aim_up() -> bool:
            assert started[1].poll() is None, (tmp / "aim.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{aim_port}/status/", timeout=2):
                    return True
            except OSError:
                return False

        wait_for(ray_up, 180, "ray start --head")
        wait_for(aim_up, 120, "aim server")
        yield {
            "address": f"127.0.0.1:{port}",
            "aim": f"aim://127.0.0.1:{aim_port}",
            "aim_dir": str(tmp / "aim"),
            "env": run_env,
        }  # type: ignore[misc]
    finally:
        for proc in reversed(started):
            stop_group(proc)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def compose(
    env: dict[str, str], *args: str, timeout: float = 400
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compose.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_spec(path: Path, data: dict[str, object]) -> Path:
    YAML(typ="safe", pure=True).dump(data, path)
    return path


def sets_without_cache(tmp: Path) -> list[str]:
    """The tiny runs' overrides, the model cache left to the sweep (STORAGE/models)."""
    return [s for s in tiny_sets(tmp) if not s.startswith("runtime.model_cache=")]


def table_rows(env: dict[str, str], out: Path) -> dict[str, dict[str, object]]:
    js = out.parent / f"{out.name}-rows.json"
    res = compose(env, "sweep", "table", str(out), "--json", str(js))
    assert res.returncode == 0, res.stderr
    return {r["name"]: r for r in json.loads(js.read_text())}


def test_ray_sweep_equals_local_logs_to_one_aim_server_and_survives_a_nan_stop(
    services: dict[str, str],
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    renv = dict(services["env"])  # type: ignore[arg-type]
    sets = sets_without_cache(tmp_path)
    spec = {"seeds": [0, 1], "recipes": ["mbpo", "mopo"], "set": sets}
    ray_spec = write_spec(
        tmp_path / "ray.yaml",
        {
            **spec,
            "set": [*sets, f"track.repo={services['aim']}"],
            "runs": [{"recipe": "mbpo", "label": "nan", "seeds": [0], "set": [NAN]}],
        },
    )
    storage = tmp_path / "storage"
    res = compose(
        renv,
        "sweep",
        str(ray_spec),
        "--engine",
        "ray",
        "--address",
        services["address"],
        "--storage",
        str(storage),
    )
    assert res.returncode == 1, res.stderr[-4000:]  # the NaN run failed, nothing else
    out = storage / "sweeps" / "ray"
    assert "failed nan-s0 (exit 1" in res.stderr and "non-finite values at step 32" in res.stderr
    assert "retried" not in res.stderr  # a NaN stop is final, never retried
    names = [f"{r}-s{s}" for r in ("mbpo", "mopo") for s in (0, 1)]
    spans = []
    for name in names:
        assert f"done   {name} (exit 0" in res.stderr, res.stderr[-4000:]
        record = json.loads((out / name / "sweep_run.json").read_text())
        assert record["engine"] == "ray" and record["exit_code"] == 0 and record["threads"] == 1
        spans.append((record["started"], record["ended"]))
    nan = json.loads((out / "nan-s0" / "sweep_run.json").read_text())
    spans.append((nan["started"], nan["ended"]))
    # 1 CPU each on a 2-CPU cluster: never more than two runs at once.
    assert max(sum(a <= t < b for a, b in spans) for t, _ in spans) <= 2, spans
    # The node made the factory dataset in the shared store; the model cache is shared too.
    assert (
        storage / "datasets" / "compose/pendulum/random-v0" / "data" / "main_data.hdf5"
    ).is_file()
    assert any((storage / "models").iterdir())

    # Every run in the one Aim server's repo, with its recipe's parameters, read through the
    # server in a process of its own (each run indexed first, as `aim up` does).
    hashes = [
        json.loads((out / n / "summary.json").read_text())["aim_run_hash"]
        for n in [*names, "nan-s0"]
    ]
    query = (
        "import aim, json, sys\n"
        "from aim.sdk.index_manager import RepoIndexManager\n"
        "repo = aim.Repo(sys.argv[1])\n"
        "for h in sys.argv[2:]:\n"
        "    RepoIndexManager.get_index_manager(repo).index(h)\n"
        "print(json.dumps({r['run_dir']: r['recipe'] for r in repo.iter_runs()}))"
    )
    got = subprocess.run(
        [sys.executable, "-c", query, services["aim"], *hashes],
        env=renv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr[-3000:]
    runs = json.loads(got.stdout.strip().splitlines()[-1])
    assert set(runs) == {str(out / name) for name in [*names, "nan-s0"]}
    for name in [*names, "nan-s0"]:
        recipe = runs[str(out / name)]
        assert recipe["name"] == ("mopo" if name.startswith("mopo") else "mbpo")
        assert recipe["seed"] == int(name[-1]) and recipe["train"]["steps"] == 50

    # The same spec on the local engine: the same table (same seeds -> same scores on CPU).
    local_spec = write_spec(tmp_path / "local.yaml", {**spec, "set": tiny_sets(tmp_path / "l")})
    local_out = tmp_path / "local"
    res = compose(
        env, "sweep", str(local_spec), "--jobs", "2", "--no-track", "--out", str(local_out)
    )
    assert res.returncode == 0, res.stderr[-4000:]
    ray_rows, local_rows = table_rows(renv, out), table_rows(env, local_out)
    assert ray_rows["nan-s0"]["status"] == "failed: non-finite values"
    for name in names:
        a, b = ray_rows[name], local_rows[name]
        keys = ("label", "recipe", "seed", "grid", "status", "steps", "score", "return")
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}, name
        assert a["score"] is not None and a["retried"] == []


def _sweep_proc(env: dict[str, str], args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "compose.cli", *args],
            env=env,
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )


def test_a_killed_worker_resumes_and_ctrl_c_then_rerun_finishes_the_same_run(
    services: dict[str, str],
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    from tests.helpers.runs import params_of

    renv = dict(services["env"])  # type: ignore[arg-type]
    longer = ["train.steps=2000", "checkpoint.every=50", "eval.every=2000"]
    sets = [*sets_without_cache(tmp_path), *longer]
    spec = write_spec(tmp_path / "kill.yaml", {"seeds": [0], "recipes": ["mbpo"], "set": sets})
    storage = tmp_path / "storage"
    run_dir = storage / "sweeps" / "kill" / "mbpo-s0"
    args = [
        "sweep",
        str(spec),
        "--engine",
        "ray",
        "--address",
        services["address"],
        "--storage",
        str(storage),
        "--no-track",
    ]
    # The uninterrupted reference, made alongside (the cluster uses one of the two CPUs).
    ref_dir = tmp_path / "reference"
    reference = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "compose.cli",
            "run",
            "mbpo",
            "--no-track",
            "--run-dir",
            str(ref_dir),
            *[a for s in [*tiny_sets(tmp_path / "ref"), *longer] for a in ("--set", s)],
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = tmp_path / "driver.log"
    driver = _sweep_proc(renv, args, log)
    try:
        record_file = run_dir / "sweep_run.json"

        def record() -> dict[str, object]:
            try:
                return json.loads(record_file.read_text())
            except (OSError, ValueError):
                return {}

        def alive() -> bool:
            assert driver.poll() is None, log.read_text()[-4000:]
            return True

        wait_for(
            lambda: alive() and (run_dir / "checkpoint.pt").is_file() and "pid" in record(),
            240,
            "the run's first checkpoint",
        )
        first = record()
        os.kill(int(first["worker_pid"]), signal.SIGKILL)  # the Ray worker of the running run
        # Ray retries the task on a new worker; it resumes the run from its checkpoint.
        wait_for(
            lambda: (
                alive()
                and record().get("worker_pid") not in (None, first["worker_pid"])
                and "resumed from" in (run_dir / "sweep.log").read_text()
            ),
            240,
            "the retried task to resume the run",
        )
        driver.send_signal(signal.SIGINT)  # Ctrl-C: the run saves a checkpoint and stops
        assert driver.wait(timeout=180) == 130, log.read_text()[-4000:]
    finally:
        if driver.poll() is None:
            driver.kill()
    text = log.read_text()
    assert "interrupt: asking the running runs to save a checkpoint" in text
    retries = json.loads(record_file.read_text())["retries"]
    assert len(retries) == 1 and retries[0]["reason"].startswith(
        f"worker lost (pid {first['worker_pid']}"
    )
    assert retries[0]["from_step"] >= 50
    assert f"retried mbpo-s0: worker lost (pid {first['worker_pid']}" in text
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"

    res = compose(renv, *args)  # the same command resumes the sweep
    assert res.returncode == 0, res.stderr[-4000:]
    assert "queued mbpo-s0: resume" in res.stderr
    assert json.loads((run_dir / "summary.json").read_text())["steps"] == 2000
    rows = table_rows(renv, storage / "sweeps" / "kill")
    assert rows["mbpo-s0"]["retried"] and "worker lost" in rows["mbpo-s0"]["retried"][0]
    table = compose(renv, "sweep", "table", str(storage / "sweeps" / "kill"))
    assert "retried" in table.stdout and "worker lost" in table.stdout

    assert reference.wait(timeout=300) == 0
    a, b = params_of(ref_dir), params_of(run_dir)
    assert a.keys() == b.keys()
    assert not [k for k in a if not (a[k] == b[k]).all()]


def test_unreachable_aim_server_ray_address_and_missing_storage_are_clear_errors(
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    spec = write_spec(tmp_path / "s.yaml", {"recipes": ["mbpo"], "set": tiny_sets(tmp_path)})
    storage = tmp_path / "storage"
    port = free_port()
    res = compose(
        env,
        "sweep",
        str(spec),
        "--engine",
        "ray",
        "--storage",
        str(storage),
        "--set",
        f"track.repo=aim://127.0.0.1:{port}",
    )
    assert res.returncode == 2, res.stderr
    assert f"cannot reach the Aim server at aim://127.0.0.1:{port}" in res.stderr
    assert f"aim server --host 127.0.0.1 --port {port}" in res.stderr
    assert "Traceback" not in res.stderr and not (storage / "sweeps").exists()

    res = compose(
        env,
        "sweep",
        str(spec),
        "--engine",
        "ray",
        "--storage",
        str(storage),
        "--no-track",
        "--address",
        f"127.0.0.1:{port}",
    )
    assert res.returncode == 2, res.stderr
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in res.stderr
    assert "ray start --head" in res.stderr and "Traceback" not in res.stderr

    res = compose(env, "sweep", str(spec), "--engine", "ray", "--no-track")
    assert res.returncode == 2 and "--engine ray needs --storage DIR" in res.stderr

    res = compose(env, "sweep", str(spec), "--engine", "ray", "--storage", str(storage))
    assert res.returncode == 2 and "logs every run to one Aim server" in res.stderr
