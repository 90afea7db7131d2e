"""compose: model-based offline RL from typed components wired in YAML recipes.

The top-level package is torch-free: it exposes the registry, the config base class and the
plugin marker. Runtime contracts (which import torch) are in :mod:`compose.kinds`.
"""

from __future__ import annotations

from compose.hookspecs import hookimpl
from compose.registry import ComponentConfig, Registry, Slot

__all__ = ["ComponentConfig", "Registry", "Slot", "hookimpl", "__version__"]

__version__ = "0.1.0"
