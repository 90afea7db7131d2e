"""Shared test set-up: the torch-free test plugin and an isolated registry built from it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_PLUGIN_DIR = ROOT / "tests" / "recipes"
if str(TEST_PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(TEST_PLUGIN_DIR))


@pytest.fixture(scope="session")
def test_plugins():  # noqa: ANN201
    """compose's own plugin plus the test plugin; no installed entry points."""
    import testplugin

    from compose.plugins import load_plugins

    return load_plugins(extra=[("testplugin", testplugin)], entry_points=False)


@pytest.fixture()
def one_thread():  # noqa: ANN201
    """torch on one thread for the test (tiny tensors: more threads only add contention)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
