"""The plugin manager: loads entry points of group ``compose`` and fills the registry.

A plugin that fails to import, whose hook raises (for instance by registering a name that
is already taken), or whose component config pydantic cannot build (or whose defaults do
not validate) is reported by name in :attr:`LoadedPlugins.errors`, and nothing it
registered stays (no components, no recipe folder); the others still load.

compose-rl's own entry points load first, under names no other distribution can take, so
a plugin cannot displace the built-in components (a clash names the plugin). A module
attribute that looks like a misspelt hook (``compose_register_component``) is a warning.
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
    #: Things that do not stop a plugin but are likely mistakes (a misspelt hook name).
    warnings: list[str] = field(default_factory=list)

    def versions(self) -> dict[str, str]:
        """Distribution -> version of every loaded plugin (recorded with each run)."""
        return {p.distribution: p.version for p in self.plugins}


_HOOKS = (
    "compose_register_components",
    "compose_register_dataset_sources",
)
_ALL_HOOKS = (*_HOOKS, "compose_recipe_paths")
OWN_DISTRIBUTION = "compose-rl"


def _entry_points() -> list[md.EntryPoint]:
    """compose-rl's entry points first (the built-ins), then the others by name."""
    eps = md.entry_points(group=PROJECT)
    return sorted(eps, key=lambda ep: (_distribution(ep)[0] != OWN_DISTRIBUTION, ep.name))


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
        ("compose", OWN_DISTRIBUTION, _own_version(), _builtin_plugin)
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
        if _load_one(pm, registry, loaded, name, dist, module):
            loaded.plugins.append(PluginInfo(name, dist, version))
    names = {dist: name for name, dist, _, _ in candidates}
    for spec, message in registry.finalize():
        plugin = names.get(spec.origin, spec.origin)
        loaded.errors.append(
            PluginError(plugin, spec.origin, f"{spec.kind} '{spec.name}'", message)
        )
    return loaded


def _load_one(
    pm: pluggy.PluginManager,
    registry: Registry,
    loaded: LoadedPlugins,
    name: str,
    dist: str,
    module: Any,
) -> bool:
    """Register one plugin; on any failure undo everything it registered (False)."""
    try:
        # The distribution in the name: a plugin cannot take the built-ins' name.
        pm.register(module, name=f"{dist}:{name}")
    except Exception as exc:
        loaded.errors.append(PluginError(name, dist, "register", _describe(exc)))
        return False
    loaded.warnings += [
        f"plugin '{name}' (distribution '{dist}'): {w}" for w in _hook_typos(module)
    ]
    before = registry.keys()
    paths: list[Path] = []
    failed = False
    for hook in _HOOKS:
        impl = getattr(module, hook, None)
        if impl is None:
            continue
        with registry.origin(dist):
            try:
                impl(registry=registry)
            except Exception as exc:
                loaded.errors.append(PluginError(name, dist, hook, _describe(exc)))
                failed = True
                break
    recipe_paths = getattr(module, "compose_recipe_paths", None)
    if recipe_paths is not None and not failed:
        try:
            paths = [Path(p) for p in recipe_paths()]
        except Exception as exc:
            loaded.errors.append(PluginError(name, dist, "compose_recipe_paths", _describe(exc)))
            failed = True
    if failed:
        registry.drop(registry.keys() - before)
        pm.unregister(module)
        return False
    loaded.recipe_paths.extend(paths)
    return True


def _hook_typos(module: Any) -> list[str]:
    """Attributes named like a hook that is not one (pluggy would never call them)."""
    from compose.registry import suggest

    out: list[str] = []
    for attr in dir(module):
        value = getattr(module, attr, None)
        marked = callable(value) and hasattr(value, f"{PROJECT}_impl")
        if attr in _ALL_HOOKS or not callable(value):
            continue
        if not (marked or attr.startswith("compose_")):
            continue
        hint = suggest(attr, _ALL_HOOKS, n=1)
        extra = f"; did you mean '{hint[0]}'?" if hint else f"; hooks are {', '.join(_ALL_HOOKS)}"
        out.append(f"'{attr}' is not a compose hook and is never called{extra}")
    return out


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _own_version() -> str:
    try:
        return md.version("compose-rl")
    except md.PackageNotFoundError:
        return "0+unknown"
