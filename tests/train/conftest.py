"""Shared fixtures of the engine tests: a private Minari store with the tiny pendulum dataset."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers.runs import ROOT


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment variables of a private Minari store holding the tiny dataset (made once)."""
    store = tmp_path_factory.mktemp("minari")
    out = dict(os.environ, MINARI_DATASETS_PATH=str(store), PYTHONPATH=str(ROOT),
               OMP_NUM_THREADS="1", COLUMNS="120")
    subprocess.run(
        [sys.executable, "-c",
         "from compose.data import make_dataset; make_dataset('pendulum', 'random', progress=False)"],
        env=out, check=True, cwd=ROOT, capture_output=True, timeout=300,
    )
    return out
