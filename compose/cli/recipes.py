"""``compose validate`` and ``compose show``: check and print a resolved recipe."""

from __future__ import annotations

import click

from compose.cli._common import fail_recipe, get_plugins

__all__ = ["show", "validate"]

_SET_HELP = (
    "Override a value: path=value (YAML value, e.g. critic.lr=1e-4), path+=value to append "
    "to a list, list items by index (model_learner.aux_losses.0.weight=0.5). Repeatable."
)


def _load(ctx: click.Context, recipe: str, overrides: tuple[str, ...]):  # noqa: ANN202
    from compose.recipe import RecipeError, load_recipe

    plugins = get_plugins(ctx)
    try:
        return load_recipe(recipe, overrides, plugins=plugins)
    except RecipeError as exc:
        fail_recipe(exc.lines())


@click.command()
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=_SET_HELP)
@click.pass_context
def validate(ctx: click.Context, recipe: str, overrides: tuple[str, ...]) -> None:
    """Check RECIPE (a .yaml path or a recipe name) without running it.

    Prints 'ok: NAME (HASH)' or every problem as file:line:col: path: message, and exits
    with status 2 when there is any. Torch is not imported.
    """
    loaded = _load(ctx, recipe, overrides)
    click.echo(f"ok: {loaded.name} ({loaded.hash[:12]})")


@click.command()
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=_SET_HELP)
@click.option("--hash/--no-hash", "with_hash", default=False, help="Also print the recipe hash as a comment.")
@click.pass_context
def show(ctx: click.Context, recipe: str, overrides: tuple[str, ...], with_hash: bool) -> None:
    """Print RECIPE fully resolved (after extends, per_dataset and --set) as YAML.

    This is exactly the tree a run stores, so any run can be repeated from it.
    """
    from compose.recipe import dump_resolved

    loaded = _load(ctx, recipe, overrides)
    if with_hash:
        click.echo(f"# hash: {loaded.hash}")
    click.echo(dump_resolved(loaded.resolved), nl=False)
