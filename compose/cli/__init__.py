"""The ``compose`` command line.

``compose validate|show|components|plugins`` live here; the other commands (``LAZY``: data,
run, bench, sweep, compare, ...) are imported only when called, so ``compose validate`` does
not import torch, and a command whose module fails to import is named as broken while the
others keep working. Exit status: 0 ok, 1 failure, 2 bad recipe or arguments,
70 internal error (with ``--debug`` for the traceback).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
import warnings
from typing import Any

import click

from compose.cli._common import EXIT_INTERNAL, get_plugins
from compose.cli.recipes import show, validate
from compose.cli.registry_cmds import components, plugins

__all__ = ["cli", "main"]

#: Commands owned by other modules: name -> (module, attribute).
LAZY: dict[str, tuple[str, str]] = {
    "data": ("compose.cli.data", "data"),
    "run": ("compose.cli.run", "run"),
    "bench": ("compose.cli.bench", "bench"),
    "sweep": ("compose.cli.sweep", "sweep"),
    "compare": ("compose.cli.compare", "compare"),
}

_ISSUES = "https://github.com/compose-rl/compose/issues"


def _broken(name: str, exc: BaseException) -> click.Command:
    @click.command(
        name=name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
    )
    def broken() -> None:
        """Unavailable: its module failed to import."""
        click.echo(
            f"compose {name} is unavailable: {type(exc).__name__}: {exc}; please report this",
            err=True,
        )
        raise SystemExit(1)

    return broken


class _LazyGroup(click.Group):
    """A group that imports some subcommands only when they are used or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        for name in LAZY:
            if self._lazy(name) is not None:
                names.add(name)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY:
            return self._lazy(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _lazy(self, name: str) -> click.Command | None:
        module_name, attr = LAZY[name]
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            return _broken(name, exc)
        command = getattr(module, attr, None)
        return (
            command
            if isinstance(command, click.Command)
            else _broken(name, AttributeError(f"{module_name} has no click command '{attr}'"))
        )


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from compose.plugins import _own_version

    click.echo(f"compose-rl {_own_version()}")
    loaded = get_plugins(ctx)
    for p in loaded.plugins:
        click.echo(f"  plugin {p.name}: {p.distribution} {p.version}")
    ctx.exit()


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show compose-rl's version and the loaded plugins, then exit.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """compose: model-based offline RL algorithms assembled from YAML recipes.

    \b
    compose validate recipes/mopo.yaml --set critic.lr=1e-4
    compose show recipes/vipo_mobile.yaml
    compose components --kind uncertainty
    compose run recipes/vipo_mobile.yaml --quick
    """
    obj = ctx.ensure_object(dict)
    obj["debug"] = debug
    if ctx.invoked_subcommand and not ctx.resilient_parsing and "plugins" not in obj:
        # Every command reports broken plugins (one warning line each), then goes on.
        get_plugins(ctx, warn=ctx.invoked_subcommand != "plugins")


for _command in (validate, show, components, plugins):
    cli.add_command(_command)


#: Commands that choose their own OpenMP wait policy (``compose bench --omp-wait``).
OWN_OMP_POLICY = ("bench",)


def default_omp_wait(args: list[str]) -> str | None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it; returns what was set (or None).

    Why: torch's OpenMP threads spin while they wait (libgomp's default); on a machine whose
    cores are busy with other jobs a spinning thread holds a core the others need, and a run
    is several times slower (compose/bench/PROFILE.md section 0). libgomp reads the variable
    once, when torch loads it, so it is set here, before any command imports torch. Not for
    ``compose bench``, which has ``--omp-wait`` and records the policy it measured under.
    """
    if "OMP_WAIT_POLICY" in os.environ or "torch" in sys.modules:
        return None
    command = next((a for a in args if not a.startswith("-")), None)
    if command in OWN_OMP_POLICY:
        return None
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return "PASSIVE"


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """A recipe warning is one ``warning:`` line on stderr (no source line of compose)."""
    from compose.recipe.errors import RecipeWarning

    if issubclass(category, RecipeWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _SHOW_WARNING(message, category, *args, **kwargs)


_SHOW_WARNING = warnings.showwarning


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``compose`` console script: no bare tracebacks for users."""
    args = list(sys.argv[1:] if argv is None else argv)
    default_omp_wait(args)
    debug = "--debug" in args or os.environ.get("COMPOSE_DEBUG", "") == "1"
    warnings.showwarning = _show_warning
    try:
        return cli.main(args=args, prog_name="compose", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:
        click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
        if debug:
            traceback.print_exc()
        else:
            click.echo("run again with --debug for the traceback", err=True)
        click.echo(f"this is a bug in compose or a plugin; please report it ({_ISSUES})", err=True)
        raise SystemExit(EXIT_INTERNAL) from None
