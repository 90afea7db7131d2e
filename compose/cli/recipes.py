"""``compose validate`` and ``compose show``: check and print a resolved recipe."""

from __future__ import annotations

from typing import Any

import click

from compose.cli._common import fail_recipe, get_plugins

__all__ = ["show", "validate"]

_SET_HELP = (
    "Override a value: path=value (YAML value, e.g. critic.lr=1e-4), path+=value to append "
    "to a list, list items by index (model_learner.aux_losses.0.weight=0.5). Repeatable."
)


_PROFILE_HELP = "Resolve under a named profile (e.g. quick), as compose run --profile does."


def _load(  # noqa: ANN202
    ctx: click.Context, recipe: str, overrides: tuple[str, ...], profile: str | None
):
    """The recipe resolved under ``profile``; every profile entry's path is checked too."""
    return _load_profiled(ctx, recipe, overrides, profile).loaded


def _load_profiled(  # noqa: ANN202
    ctx: click.Context, recipe: str, overrides: tuple[str, ...], profile: str | None
):
    from compose.recipe import RecipeError
    from compose.recipe.profiles import load_profiled

    plugins = get_plugins(ctx)
    try:
        return load_profiled(recipe, overrides, profile, plugins)
    except RecipeError as exc:
        fail_recipe(exc.lines())


def _profile(quick: bool, profile: str | None) -> str | None:
    if quick and profile not in (None, "quick"):
        raise click.UsageError("--quick is --profile quick; give one of them")
    return "quick" if quick else profile


@click.command()
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=_SET_HELP)
@click.option("--profile", default=None, metavar="NAME", help=_PROFILE_HELP)
@click.option("--quick", is_flag=True, help="Same as --profile quick.")
@click.pass_context
def validate(
    ctx: click.Context, recipe: str, overrides: tuple[str, ...], profile: str | None, quick: bool
) -> None:
    """Check RECIPE (a .yaml path or a recipe name) without running it.

    Prints 'ok: NAME (HASH)' or every problem as file:line:col: path: message, and exits
    with status 2 when there is any. Torch is not imported.
    """
    loaded = _load(ctx, recipe, overrides, _profile(quick, profile))
    click.echo(f"ok: {loaded.name} ({loaded.hash[:12]})")


@click.command()
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=_SET_HELP)
@click.option("--profile", default=None, metavar="NAME", help=_PROFILE_HELP)
@click.option("--quick", is_flag=True, help="Same as --profile quick.")
@click.option(
    "--hash/--no-hash", "with_hash", default=False, help="Also print the recipe hash as a comment."
)
@click.option(
    "--sources",
    is_flag=True,
    help="Print every value (defaults included) with its source: the recipe line that set "
    "it and that line's source comment, a per_dataset or profile entry, a --set, or the "
    "component default and its description.",
)
@click.option("--json", "as_json", is_flag=True, help="With --sources: print the sources as JSON.")
@click.pass_context
def show(
    ctx: click.Context,
    recipe: str,
    overrides: tuple[str, ...],
    profile: str | None,
    quick: bool,
    with_hash: bool,
    sources: bool,
    as_json: bool,
) -> None:
    """Print RECIPE fully resolved (after extends, per_dataset and --set) as YAML.

    This is exactly the tree a run stores, so any run can be repeated from it. With
    --sources, every value is listed with where it came from, so what is the paper and what
    is a choice can be read at once.
    """
    from compose.recipe import dump_resolved

    if as_json and not sources:
        raise click.UsageError("--json goes with --sources")
    profiled = _load_profiled(ctx, recipe, overrides, _profile(quick, profile))
    loaded = profiled.loaded
    if sources:
        _show_sources(ctx, profiled, overrides, as_json)
        return
    if with_hash:
        click.echo(f"# hash: {loaded.hash}")
    click.echo(dump_resolved(loaded.resolved), nl=False)


def _show_sources(
    ctx: click.Context, profiled: Any, overrides: tuple[str, ...], as_json: bool
) -> None:
    from compose.recipe.errors import _display
    from compose.recipe.provenance import format_origins, origins_json, trace

    loaded = profiled.loaded
    origins = trace(loaded, get_plugins(ctx).registry, profiled.override_origins(overrides))
    if as_json:
        click.echo(origins_json(origins), nl=False)
        return
    dataset = loaded.resolved.get("dataset", {})
    ident = dataset.get("id") if isinstance(dataset, dict) else None
    head = f"# {loaded.name}: {_display(loaded.source)}"
    head += f", dataset {ident}" if ident else ""
    head += f", profile {profiled.profile}" if profiled.profile else ""
    click.echo(head)
    click.echo(format_origins(origins), nl=False)
