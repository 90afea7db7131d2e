"""compose's own plugin: its dataset sources and the project's recipe folder.

Registered through the same hooks as any third-party plugin.
"""

from __future__ import annotations

from pathlib import Path

from compose.hookspecs import hookimpl
from compose.registry import Registry


@hookimpl
def compose_register_dataset_sources(registry: Registry) -> None:
    """Register the built-in dataset sources (minari, d4rl_hdf5, ...)."""
    from compose.data import DATASET_SOURCES

    for config in DATASET_SOURCES:
        registry.add(config)


@hookimpl
def compose_recipe_paths() -> list[Path]:
    """The project's ``recipes/`` folder (a source checkout or editable install)."""
    here = Path(__file__).resolve().parent.parent / "recipes"
    return [here] if here.is_dir() else []
