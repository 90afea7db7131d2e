"""The Ray engine's pieces that need no cluster: retry reasons, resources, checks, the table."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from compose.sweep.ray_engine import (
    EngineError,
    _host_port,
    _retry_reason,
    check_aim_server,
    resources_of,
)
from compose.sweep.table import collect_rows, table_cells


def test_only_a_lost_worker_or_a_killed_run_of_the_same_invocation_is_a_retry() -> None:
    base = {"invocation": "a", "worker_pid": 7, "node": "n1"}
    assert _retry_reason(base, "a") == "worker lost (pid 7 on n1)"
    assert (
        _retry_reason({**base, "exit_code": -9}, "a")
        == "compose run killed by SIGKILL (pid 7 on n1)"
    )
    assert _retry_reason({**base, "exit_code": 1}, "a") is None  # a NaN stop: final
    assert _retry_reason({**base, "exit_code": 130}, "a") is None  # Ctrl-C: final
    assert _retry_reason(base, "b") is None  # an earlier sweep command
    assert _retry_reason({}, "a") is None


def test_resources_are_threads_and_one_gpu_on_cuda() -> None:
    assert resources_of({"threads": 4, "device": "cuda"}) == (4, 1)
    assert resources_of({"threads": None, "device": "auto"}) == (1, 0)


def test_addresses_parse() -> None:
    assert _host_port("127.0.0.1:6379") == ("127.0.0.1", 6379)
    assert _host_port("ray://head:10001") == ("head", 10001)
    assert _host_port("auto") is None


def test_an_unreachable_aim_server_names_the_command_that_starts_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EngineError, match=f"aim server --host 127.0.0.1 --port {port}"):
        check_aim_server(f"aim://127.0.0.1:{port}", timeout=2)
    with pytest.raises(EngineError, match="is not aim://HOST:PORT"):
        check_aim_server("aim://nohost")


def test_the_table_says_which_runs_were_retried_and_why(tmp_path: Path) -> None:
    for name, retries in (
        ("a-s0", [{"reason": "worker lost (pid 7 on n1)", "from_step": 50}]),
        ("a-s1", []),
    ):
        run = tmp_path / name
        run.mkdir()
        (run / "summary.json").write_text(json.dumps({"status": "finished", "steps": 100}))
        (run / "sweep_run.json").write_text(json.dumps({"exit_code": 0, "retries": retries}))
    rows = {r["name"]: r for r in collect_rows(tmp_path)}
    assert rows["a-s0"]["retried"] == ["worker lost (pid 7 on n1); resumed from step 50"]
    assert rows["a-s1"]["retried"] == []
    header, cells = table_cells(sorted(rows.values(), key=lambda r: r["name"]), False)
    assert header[-1] == "retried"
    assert [c[-1] for c in cells] == ["worker lost (pid 7 on n1); resumed from step 50", "-"]
    header, _ = table_cells([rows["a-s1"]], False)  # no retries: the local engine's columns
    assert "retried" not in header
