"""Offline datasets: source configs (torch-free), the in-memory form, the dataset factory.

``import compose.data`` does not import torch; ``OfflineData`` and the loaders do, on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compose.data.errors import DatasetError
from compose.data.info import DatasetInfo
from compose.data.sources import DATASET_SOURCES, D4RLHdf5Source, MinariSource

if TYPE_CHECKING:
    from compose.data.factory import make_dataset
    from compose.data.offline import DataStats, OfflineData

__all__ = [
    "DATASET_SOURCES",
    "D4RLHdf5Source",
    "DataStats",
    "DatasetError",
    "DatasetInfo",
    "MinariSource",
    "OfflineData",
    "make_dataset",
]

_LAZY = {
    "OfflineData": "compose.data.offline",
    "DataStats": "compose.data.offline",
    "make_dataset": "compose.data.factory",
}


def __getattr__(name: str) -> Any:
    """Import torch-backed members on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'compose.data' has no attribute {name!r}")
