"""``compose components`` and ``compose plugins``: what the registry holds and who gave it."""

from __future__ import annotations

from typing import Any

import click
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from compose.cli._common import get_plugins
from compose.registry import KINDS, ComponentSpec

__all__ = ["components", "describe_field", "plugins"]

_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def describe_field(name: str, info: FieldInfo) -> str:
    """``beta: float > 0 (required)`` / ``samples: int >= 1 = 10``."""
    from compose.recipe._schema_walk import describe, type_name

    node = describe(info.annotation, info.metadata)
    if node.kind == "slot" and node.slot is not None:
        kind = node.slot.kind + (f" for {node.slot.attach}" if node.slot.attach else "")
        text = f"{name}: {kind} component"
    elif (
        node.kind == "list"
        and node.item is not None
        and node.item.kind == "slot"
        and node.item.slot
    ):
        slot = node.item.slot
        text = f"{name}: list of {slot.kind}" + (f" for {slot.attach}" if slot.attach else "")
    else:
        text = f"{name}: {type_name(info.annotation)}"
    for meta in info.metadata:
        for attr, sym in _BOUNDS:
            bound = getattr(meta, attr, None)
            if bound is not None:
                text += f" {sym} {bound}"
    if info.is_required():
        return text + " (required)"
    if info.default_factory is not None:
        try:
            default: Any = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return text
    else:
        default = info.default
    if default is PydanticUndefined:
        return text
    return f"{text} = {default!r}"


def _fields(spec: ComponentSpec) -> str:
    tag = KINDS[spec.kind].tag
    return "\n".join(describe_field(n, f) for n, f in spec.config.model_fields.items() if n != tag)


@click.command()
@click.option("--kind", type=click.Choice(list(KINDS)), help="Only components of this kind.")
@click.pass_context
def components(ctx: click.Context, kind: str | None) -> None:
    """List every registered component: kind, name, origin, what it is, its config fields."""
    from rich.console import Console
    from rich.table import Table

    loaded = get_plugins(ctx)
    specs = loaded.registry.specs(kind)
    table = Table(title="compose components", show_lines=True)
    for column in ("kind", "name", "origin", "description", "fields"):
        table.add_column(column, overflow="fold")
    for spec in specs:
        doc = spec.doc
        if spec.kind == "aux_loss":
            doc = f"[{', '.join(spec.config.attaches_to)}] {doc}"
        table.add_row(spec.kind, spec.name, spec.origin, doc, _fields(spec))
    console = Console(soft_wrap=False, width=None if _tty() else 160)
    if not specs:
        click.echo("no components registered" + (f" of kind {kind}" if kind else ""))
        return
    console.print(table)


def _tty() -> bool:
    import sys

    return sys.stdout.isatty()


@click.command()
@click.pass_context
def plugins(ctx: click.Context) -> None:
    """List loaded plugins, one line per distribution (version, entry points, components),
    the recipe folders in search order, and plugins that failed."""
    from compose.recipe import search_paths

    loaded = get_plugins(ctx, warn=False)
    click.echo("plugins:")
    by_dist: dict[str, list[str]] = {}
    versions: dict[str, str] = {}
    for p in loaded.plugins:
        by_dist.setdefault(p.distribution, []).append(p.name)
        versions[p.distribution] = p.version
    for dist, names in by_dist.items():
        n = sum(1 for s in loaded.registry.specs() if s.origin == dist)
        points = ", ".join(names)
        click.echo(f"  {dist} {versions[dist]}: {n} components (entry points: {points})")
    click.echo("recipe folders (searched in this order):")
    for path in search_paths(loaded):
        click.echo(f"  {path}")
    if loaded.errors:
        click.echo("errors:")
        for error in loaded.errors:
            click.echo(f"  {error}")
    else:
        click.echo("errors: none")
    for text in loaded.warnings:
        click.echo(f"warning: {text}")
