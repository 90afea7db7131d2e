"""The one list of compose's extension points (pluggy hook specifications).

A plugin is a module exposed under the ``compose`` entry-point group that implements some
of these hooks with ``@compose.hookimpl``. The built-in ``components`` package and compose's
own dataset sources are registered through exactly these hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from compose.registry import Registry

__all__ = ["PROJECT", "hookimpl", "hookspec", "ComposeHookSpecs"]

PROJECT = "compose"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class ComposeHookSpecs:
    """Hook specifications. Each is called once per plugin, at plugin-load time."""

    @hookspec
    def compose_register_components(self, registry: Registry) -> None:
        """Register component configs with ``registry.add(ConfigClass)``.

        Called when plugins load, before any recipe is validated. Every kind except
        ``dataset`` is registered here.
        """

    @hookspec
    def compose_register_dataset_sources(self, registry: Registry) -> None:
        """Register dataset-source configs (kind ``dataset``, tag field ``source``).

        Called when plugins load, after components. A source config's ``load()`` returns the
        in-memory offline data (:class:`compose.data.OfflineData`).
        """

    @hookspec
    def compose_recipe_paths(self) -> list[Path]:
        """Folders in which ``extends:`` and ``compose run NAME`` look up recipes by name.

        Called when plugins load. Earlier plugins' folders are searched first; the project's
        own ``recipes/`` folder comes last.
        """
