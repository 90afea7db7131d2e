"""The plugin module named by the ``compose`` entry point ``morel``.

It implements two of compose's hooks: it registers its components and contributes its
recipe folder, exactly as the built-ins do.
"""

from __future__ import annotations

from pathlib import Path

from compose.hookspecs import hookimpl
from compose.registry import Registry
from compose_morel.halt import HaltConfig
from compose_morel.max_pairwise_diff import MaxPairwiseDiffConfig

__all__ = ["compose_recipe_paths", "compose_register_components"]


@hookimpl
def compose_register_components(registry: Registry) -> None:
    """Register ``max_pairwise_diff`` (uncertainty) and ``halt`` (reward_shaper)."""
    registry.add(MaxPairwiseDiffConfig)
    registry.add(HaltConfig)


@hookimpl
def compose_recipe_paths() -> list[Path]:
    """This package's ``recipes/`` folder (``morel.yaml``)."""
    return [Path(__file__).resolve().parent / "recipes"]
