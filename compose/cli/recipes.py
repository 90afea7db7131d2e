"""``compose validate`` and ``compose show``: check and print a resolved recipe."""

from __future__ import annotations

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
    from compose.recipe import RecipeError
    from compose.train.profiles import load_profiled

    plugins = get_plugins(ctx)
    try:
        return load_profiled(recipe, overrides, profile, plugins).loaded
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
@click.option("--hash/--no-hash", "with_hash", default=False, help="Also print the recipe hash as a comment.")
@click.pass_context
def show(
    ctx: click.Context,
    recipe: str,
    overrides: tuple[str, ...],
    profile: str | None,
    quick: bool,
    with_hash: bool,
) -> None:
    """Print RECIPE fully resolved (after extends, per_dataset and --set) as YAML.

    This is exactly the tree a run stores, so any run can be repeated from it.
    """
    from compose.recipe import dump_resolved

    loaded = _load(ctx, recipe, overrides, _profile(quick, profile))
    if with_hash:
        click.echo(f"# hash: {loaded.hash}")
    click.echo(dump_resolved(loaded.resolved), nl=False)
