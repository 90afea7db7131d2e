"""``compose`` sets OMP_WAIT_POLICY=PASSIVE before torch loads, unless the user chose one.

Why it matters: torch's OpenMP threads spin while waiting; on a machine whose cores are busy
a run is several times slower (compose/bench/PROFILE.md section 0). Checked in a fresh
interpreter, since libgomp reads the variable once when torch is first imported.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers.runs import ROOT

PROBE = """
import os, sys
from compose.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("policy=" + os.environ.get("OMP_WAIT_POLICY", "<unset>"))
"""


def _policy(args: list[str], **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    res = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return res.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("command", ["run", "sweep", "data"])
def test_passive_by_default(command: str) -> None:
    assert _policy([command, "--help"]) == "policy=PASSIVE"


def test_the_users_choice_and_bench_are_left_alone() -> None:
    assert _policy(["run", "--help"], OMP_WAIT_POLICY="ACTIVE") == "policy=ACTIVE"
    assert _policy(["bench", "--help"]) == "policy=<unset>"
