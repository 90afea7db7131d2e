"""The plugin manager: loads entry points of group ``compose`` and fills the registry.

A plugin that fails to import, or whose hook raises (for instance by registering a name
that is already taken), is reported by name in :attr:`LoadedPlugins.errors`; the others
still load.
"""

from __future__ import annotations

import functools
import importlib.metadata as md
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from compose import _builtin_plugin
from compose.hookspecs import PROJECT, ComposeHookSpecs
from compose.registry import Registry

__all__ = ["LoadedPlugins", "PluginError", "PluginInfo", "load_plugins"]


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: entry-point name, distribution and its version."""

    name: str
    distribution: str
    version: str


@dataclass(frozen=True)
class PluginError:
    """A plugin that could not be loaded or registered: who, which hook, why."""

    plugin: str
    distribution: str
    hook: str
    message: str

    def __str__(self) -> str:
        return (
            f"plugin '{self.plugin}' (distribution '{self.distribution}') failed in "
            f"{self.hook}: {self.message}"
        )


@dataclass
class LoadedPlugins:
    """The outcome of loading plugins: the final registry, recipe paths, plugins, errors."""

    registry: Registry
    recipe_paths: list[Path] = field(default_factory=list)
    plugins: list[PluginInfo] = field(default_factory=list)
    errors: list[PluginError] = field(default_factory=list)

    def versions(self) -> dict[str, str]:
        """Distribution -> version of every loaded plugin (recorded with each run)."""
        return {p.distribution: p.version for p in self.plugins}


_HOOKS = (
    "compose_register_components",
    "compose_register_dataset_sources",
)


def _entry_points() -> list[md.EntryPoint]:
    return sorted(md.entry_points(group=PROJECT), key=lambda ep: (ep.name != "components", ep.name))


def _distribution(ep: md.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "<unknown>", "?"
    return dist.metadata["Name"], dist.version


def load_plugins(
    extra: Iterable[tuple[str, ModuleType | Any]] = (), *, entry_points: bool = True
) -> LoadedPlugins:
    """Load compose's built-ins, the ``compose`` entry points and ``extra`` (name, module).

    Cached for the default arguments (the usual call); pass ``extra`` or
    ``entry_points=False`` for an isolated registry (tests).
    """
    if entry_points and not extra:
        return _load_default()
    return _load(list(extra), entry_points)


@functools.cache
def _load_default() -> LoadedPlugins:
    return _load([], True)


def _load(extra: list[tuple[str, Any]], entry_points: bool) -> LoadedPlugins:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(ComposeHookSpecs)
    registry = Registry()
    loaded = LoadedPlugins(registry)
    candidates: list[tuple[str, str, str, Any]] = [
        ("compose", "compose-rl", _own_version(), _builtin_plugin)
    ]
    if entry_points:
        for ep in _entry_points():
            dist, version = _distribution(ep)
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not stop the others
                loaded.errors.append(PluginError(ep.name, dist, "import", _describe(exc)))
                continue
            candidates.append((ep.name, dist, version, module))
    for name, module in extra:
        candidates.append((name, name, "local", module))

    for name, dist, version, module in candidates:
        try:
            pm.register(module, name=name)
        except Exception as exc:
            loaded.errors.append(PluginError(name, dist, "register", _describe(exc)))
            continue
        ok = True
        for hook in _HOOKS:
            impl = getattr(module, hook, None)
            if impl is None:
                continue
            with registry.origin(dist):
                try:
                    impl(registry=registry)
                except Exception as exc:
                    loaded.errors.append(PluginError(name, dist, hook, _describe(exc)))
                    ok = False
        paths = getattr(module, "compose_recipe_paths", None)
        if paths is not None:
            try:
                loaded.recipe_paths.extend(Path(p) for p in paths())
            except Exception as exc:
                loaded.errors.append(PluginError(name, dist, "compose_recipe_paths", _describe(exc)))
        if ok:
            loaded.plugins.append(PluginInfo(name, dist, version))
    registry.finalize()
    return loaded


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _own_version() -> str:
    try:
        return md.version("compose-rl")
    except md.PackageNotFoundError:
        return "0+unknown"
