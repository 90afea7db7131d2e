"""``compose run``: train a recipe end to end (model phase, policy phase, evaluation).

Exit status: 0 finished, 2 bad recipe/arguments, a refused resume, an unreadable checkpoint
or a run directory in use or holding another run, 1 stopped on non-finite values, 130
interrupted (a checkpoint was saved; resume with ``--resume``).
Starting the run (run directory, lock, seeds) is :mod:`compose.train.launch`; this module
parses the arguments and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import click

from compose.cli._common import EXIT_BAD_INPUT, expand_seeds, fail_recipe, get_plugins

__all__ = ["run"]

_SET_HELP = "Override a value: path=value (repeatable), e.g. --set critic.lr=1e-4."


class _SeedsCommand(click.Command):
    """Accepts ``--seeds 0 1 2`` (space separated) as well as ``--seeds 0,1,2``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_seeds(list(args)))


_SEEDS_HELP = (
    "Train several seeds in one process, their policy phases batched: --seeds K (K seeds "
    "from the recipe's seed) or --seeds 0 3 7; one run directory per seed under RUN_DIR/seed_<s>."
)


@click.command(cls=_SeedsCommand)
@click.argument("recipe", required=False)
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=_SET_HELP)
@click.option(
    "--steps", type=click.IntRange(min=0), help="Policy-phase gradient steps (train.steps)."
)
@click.option(
    "--quick", is_flag=True, help="Profile: a short run that fits a 2-core CPU (~25 min)."
)
@click.option(
    "--profile",
    "profile_name",
    metavar="NAME",
    help="Run under a named profile (--quick is --profile quick); see the recipe's profiles:.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the resolved recipe (profile and --set applied) and exit without training.",
)
@click.option("--no-track", is_flag=True, help="Do not log to Aim.")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Continue the run in RUN_DIR from its checkpoint (same Aim run).",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run directory (default: runs/<name>-<YYYYmmdd-HHMMSS>).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the run already in --run-dir (default: refuse to start over it).",
)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="runtime.device.")
@click.option(
    "--seeds", "seeds", multiple=True, type=int, metavar="K | S1 S2 ...", help=_SEEDS_HELP
)
@click.pass_context
def run(
    ctx: click.Context,
    recipe: str | None,
    overrides: tuple[str, ...],
    steps: int | None,
    quick: bool,
    profile_name: str | None,
    dry_run: bool,
    no_track: bool,
    resume_dir: Path | None,
    run_dir: Path | None,
    overwrite: bool,
    device: str | None,
    seeds: tuple[int, ...],
) -> None:
    """Train RECIPE (a .yaml path or a recipe name).

    With --resume RUN_DIR, RECIPE may be left out: the run's own recipe.yaml is used. A
    checkpoint made by a different recipe, dataset or project version is refused.
    """
    from compose.recipe import RecipeError, dump_resolved
    from compose.recipe.profiles import load_profiled
    from compose.train.launch import RunRequest, resume_source, run_target
    from compose.train.run_dir import RunDir, RunDirError

    plugins = get_plugins(ctx)
    if recipe is None and resume_dir is None:
        raise click.UsageError("give a RECIPE, or --resume RUN_DIR")
    if resume_dir is not None and overwrite:
        raise click.UsageError("--overwrite starts a run over; it does not go with --resume")
    if resume_dir is not None and seeds and RunDir(resume_dir).is_batch():
        raise click.UsageError("--resume of a seed batch resumes all its seeds; drop --seeds")
    resumed_seeds: list[int] | None = None  # the seeds of a batch being resumed
    source = recipe or ""
    if resume_dir is not None:
        try:
            source, resumed_seeds = resume_source(resume_dir, recipe)
        except RunDirError as exc:
            _fail(exc)
    extra = list(overrides)
    if steps is not None:
        extra.append(f"train.steps={steps}")
    if device is not None:
        extra.append(f"runtime.device={device}")
    if quick and profile_name not in (None, "quick"):
        raise click.UsageError("--quick is --profile quick; give one profile")
    chosen = "quick" if quick else profile_name
    try:
        profiled = load_profiled(source, extra, chosen, plugins)
    except RecipeError as exc:
        fail_recipe(exc.lines())
    loaded = profiled.loaded
    seed_list = resumed_seeds or _seed_list(seeds, int(loaded.recipe.seed)) or loaded.recipe.seeds
    if chosen is not None:
        if profiled.applied:
            click.echo(f"{chosen} profile: --set " + " --set ".join(profiled.applied), err=True)
        if profiled.skipped:
            click.echo(
                f"{chosen} profile: not applicable here: {', '.join(profiled.skipped)}", err=True
            )
        if profiled.recipe_entries:
            click.echo(
                f"{chosen} profile (recipe's own): --set "
                + " --set ".join(profiled.recipe_entries),
                err=True,
            )
    if dry_run:
        click.echo(dump_resolved(loaded.resolved), nl=False)
        return
    target = run_target(loaded, resume_dir, run_dir)
    request = RunRequest(
        profiled=profiled,
        target=target,
        seeds=seed_list,
        resume=resume_dir is not None,
        overwrite=overwrite,
        track=not no_track,
    )
    _train(request)


def _fail(message: object) -> NoReturn:
    """A bad-input error for people (no traceback): exit 2."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(EXIT_BAD_INPUT)


def _train(request: Any) -> None:
    """Start the run, turning every expected failure into its message and exit status."""
    from compose.data.errors import DatasetError
    from compose.kinds.contracts import ComponentContractError
    from compose.recipe import RecipeError
    from compose.train.checkpoint import CheckpointMismatch
    from compose.train.launch import start_run
    from compose.train.loop import Interrupted
    from compose.train.run_dir import RunDirError
    from compose.train.seeds.batch import SeedBatchError
    from compose.train.watch import NonFiniteError

    target = request.target
    try:
        start_run(request)
    except RecipeError as exc:  # a seed's recipe (--seeds)
        fail_recipe(exc.lines())
    # ComponentContractError: a plugin's component, not compose: bad input.
    except (
        SeedBatchError,
        CheckpointMismatch,
        DatasetError,
        RunDirError,
        ComponentContractError,
    ) as exc:
        _fail(exc)
    except NonFiniteError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except Interrupted as exc:
        click.echo(
            f"interrupted at step {exc.step}; checkpoint saved to {exc.checkpoint}.\n"
            f"resume with: compose run --resume {target}",
            err=True,
        )
        raise SystemExit(130) from None
    except KeyboardInterrupt:
        click.echo(
            f"aborted; the last checkpoint (if any) is in {target}; "
            f"resume with: compose run --resume {target}",
            err=True,
        )
        raise SystemExit(130) from None
    click.echo(f"run directory: {target}", err=True)


def _seed_list(seeds: tuple[int, ...], recipe_seed: int) -> list[int] | None:
    """``--seeds K`` -> K seeds from the recipe's; ``--seeds a b ...`` -> those; none -> None."""
    if not seeds:
        return None
    if len(seeds) == 1:
        if seeds[0] < 1:
            raise click.BadParameter(
                f"--seeds {seeds[0]}: one number is a count of seeds (>= 1); to run one "
                "particular seed use --set seed=N",
                param_hint="--seeds",
            )
        return list(range(recipe_seed, recipe_seed + seeds[0]))
    if len(set(seeds)) != len(seeds):
        raise click.BadParameter(f"each seed once, got {list(seeds)}", param_hint="--seeds")
    return list(seeds)
