"""Shared CLI plumbing: plugin loading (with warnings), recipe errors, exit codes."""

from __future__ import annotations

import importlib
import os
import re
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from compose.plugins import LoadedPlugins

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXTRA_PLUGINS_ENV",
    "NO_ENTRY_POINTS_ENV",
    "expand_seeds",
    "fail_recipe",
    "get_plugins",
]

#: Exit status of a bad recipe, bad arguments or bad input data.
EXIT_BAD_INPUT = 2
#: Exit status of an internal error (a bug: please report).
EXIT_INTERNAL = 70

#: Comma-separated importable modules loaded as extra plugins (``pkg.mod`` or ``name=pkg.mod``).
EXTRA_PLUGINS_ENV = "COMPOSE_EXTRA_PLUGINS"
#: Set to 1 to ignore installed entry points (an isolated registry, e.g. in tests).
NO_ENTRY_POINTS_ENV = "COMPOSE_NO_ENTRY_POINTS"


def _extra_plugins() -> list[tuple[str, Any]]:
    spec = os.environ.get(EXTRA_PLUGINS_ENV, "").strip()
    out: list[tuple[str, Any]] = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, module = item.rpartition("=")
        try:
            out.append((name or module, importlib.import_module(module)))
        except Exception as exc:  # reported like any broken plugin, the others still load
            click.echo(
                f"warning: plugin module '{module}' ({EXTRA_PLUGINS_ENV}) failed to import: "
                f"{type(exc).__name__}: {exc}",
                err=True,
            )
    return out


def get_plugins(ctx: click.Context | None = None, *, warn: bool = True) -> LoadedPlugins:
    """Load plugins once per invocation and print each plugin error as a one-line warning."""
    from compose.plugins import load_plugins

    root = ctx.find_root() if ctx is not None else None
    obj: dict[str, Any] = root.ensure_object(dict) if root is not None else {}
    if "plugins" in obj:
        return obj["plugins"]
    extra = _extra_plugins()
    entry_points = os.environ.get(NO_ENTRY_POINTS_ENV, "") not in ("1", "true", "yes")
    loaded = load_plugins(extra, entry_points=entry_points)
    if warn:
        for error in loaded.errors:
            click.echo(f"warning: {error}", err=True)
        for text in loaded.warnings:
            click.echo(f"warning: {text}", err=True)
    obj["plugins"] = loaded
    return loaded


#: Most recipe problems printed; the rest are counted ('and N more').
MAX_PROBLEMS_SHOWN = 20


def fail_recipe(lines: list[str]) -> NoReturn:
    """Print recipe problems (one per line, at most :data:`MAX_PROBLEMS_SHOWN`) to stderr
    and exit with status 2."""
    for line in lines[:MAX_PROBLEMS_SHOWN]:
        click.echo(line, err=True)
    n = len(lines)
    if n > MAX_PROBLEMS_SHOWN:
        click.echo(f"... and {n - MAX_PROBLEMS_SHOWN} more", err=True)
    click.echo(f"{n} problem{'s' if n != 1 else ''} found", err=True)
    raise SystemExit(EXIT_BAD_INPUT)


def expand_seeds(args: list[str]) -> list[str]:
    """``--seeds 0 1 2`` (space separated, as in the docs) -> ``--seeds 0 --seeds 1 ...``."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--seeds":
            i += 1
            taken = 0
            while i < len(args) and re.fullmatch(r"-?\d+(,-?\d+)*", args[i]):
                out += [x for s in args[i].split(",") for x in ("--seeds", s)]
                i += 1
                taken += 1
            if not taken:
                out.append("--seeds")  # click reports the missing value
            continue
        out.append(arg)
        i += 1
    return out
