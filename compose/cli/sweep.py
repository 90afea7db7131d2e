"""``compose sweep``: run a grid of recipes x datasets x seeds x ``--set`` values; tabulate; plot.

    compose sweep SPEC.yaml [--jobs 2] [--out DIR]            # a spec file (compose/sweep/spec.py)
    compose sweep mopo mobile --seeds 0 1 2 --grid rollout.length=1,5 --steps 30000 --jobs 2
    compose sweep table DIR [--group] [--json F] [--md F]
    compose sweep plot DIR --metric critic_target/q_mean --metric eval/normalized_score --out F.png

``run`` is the default subcommand (``compose sweep run ...`` is the same). Every expanded
recipe is validated before the first run starts; re-running the same command resumes the
sweep (finished runs are skipped, interrupted ones continue from their checkpoint).
``--engine ray --storage DIR`` places the runs on a Ray cluster instead
(compose/sweep/ray_engine.py; README: Running on a cluster).
Exit status: 0 all runs finished, 1 some run failed or crashed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from compose.cli._common import EXIT_BAD_INPUT, expand_seeds, get_plugins

__all__ = ["sweep"]

_SUBCOMMANDS = ("run", "table", "plot")


class _DefaultRunGroup(click.Group):
    """A group whose first argument, when not a subcommand name, goes to ``run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = expand_seeds(list(args))
        if args and args[0] not in _SUBCOMMANDS and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultRunGroup)
def sweep() -> None:
    """Run recipes x datasets x seeds x a --set grid as compose run subprocesses (default: run)."""


def _fail(problems: list[str]) -> None:
    for p in problems:
        click.echo(f"error: {p}", err=True)
    n = len(problems)
    click.echo(f"{n} problem{'s' if n != 1 else ''} found; nothing was run", err=True)
    raise SystemExit(EXIT_BAD_INPUT)


def _is_spec_file(arg: str) -> bool:
    path = Path(arg)
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        return False
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe", pure=True).load(path.read_text())
    except (OSError, YAMLError):
        return False
    return isinstance(data, dict) and ("runs" in data or "recipes" in data)


@sweep.command(name="run")
@click.argument("targets", nargs=-1, required=True, metavar="SPEC.yaml | RECIPE...")
@click.option("--seeds", "seeds", multiple=True, type=int, help="Seeds, e.g. --seeds 0 1 2.")
@click.option(
    "--grid",
    "grids",
    multiple=True,
    metavar="PATH=V1,V2",
    help="A grid axis (repeatable); the runs are the cartesian product.",
)
@click.option(
    "--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override for every run."
)
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    metavar="ID",
    help="Dataset ids (dataset.id), repeatable.",
)
@click.option("--steps", type=click.IntRange(min=0), help="train.steps of every run.")
@click.option("--quick", is_flag=True, help="compose run's quick profile for every run.")
@click.option(
    "--jobs", type=int, help="Runs at a time (default 1); threads per run = cores // jobs."
)
@click.option(
    "--batch-seeds",
    is_flag=True,
    help="Each grid point's seeds as one process, their policy phases batched "
    "(compose run --seeds); for recipes whose components do not train themselves "
    "during the policy phase.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Sweep directory (default runs/sweeps/<spec or recipe names>).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: a process pool on this machine; ray: a Ray cluster (see --address).",
)
@click.option(
    "--address",
    default="auto",
    show_default=True,
    metavar="auto|HOST:PORT|ray://HOST:PORT",
    help="The Ray cluster (--engine ray): auto is the one `ray start` started here.",
)
@click.option(
    "--storage",
    type=click.Path(file_okay=False, path_type=Path),
    help="--engine ray: a directory every node sees; it holds the sweep "
    "(STORAGE/sweeps/NAME), the model cache (STORAGE/models) and the datasets "
    "(STORAGE/datasets).",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="--engine ray: how often a run whose worker or node died is resumed elsewhere.",
)
@click.option("--no-track", is_flag=True, help="Do not log to Aim.")
@click.option("--dry-run", is_flag=True, help="Validate and list the runs; run nothing.")
@click.pass_context
def run_cmd(
    ctx: click.Context,
    targets: tuple[str, ...],
    seeds: tuple[int, ...],
    grids: tuple[str, ...],
    overrides: tuple[str, ...],
    datasets: tuple[str, ...],
    steps: int | None,
    quick: bool,
    jobs: int | None,
    batch_seeds: bool,
    out: Path | None,
    engine: str,
    address: str,
    storage: Path | None,
    retries: int,
    no_track: bool,
    dry_run: bool,
) -> None:
    """Run a sweep: a SPEC.yaml file, or RECIPE names/paths crossed with --seeds and --grid."""
    from compose.sweep.local import cpu_cores, run_local, threads_per_run
    from compose.sweep.spec import (
        SpecError,
        SweepEntry,
        SweepSpec,
        check_numbers,
        expand,
        load_spec,
        parse_grid_option,
        validate,
    )

    if engine == "ray" and storage is None:
        _fail(
            [
                "--engine ray needs --storage DIR: a directory every node of the cluster sees "
                "(a shared filesystem); it holds the run directories, the model cache and the "
                "datasets (README: Running on a cluster)"
            ]
        )
    try:
        grid: dict[str, list[Any]] = dict(parse_grid_option(g) for g in grids)
        if len(targets) == 1 and _is_spec_file(targets[0]):
            spec = load_spec(Path(targets[0]))
            default_out = Path("runs/sweeps") / Path(targets[0]).stem
            if grid:
                spec.entries = [
                    SweepEntry(e.recipe, e.label, {**e.grid, **grid}, e.overrides, e.seeds)
                    for e in spec.entries
                ]
        else:
            stems = [Path(t).stem if t.endswith((".yaml", ".yml")) else t for t in targets]
            spec = SweepSpec(
                entries=[SweepEntry(t, s, grid) for t, s in zip(targets, stems, strict=True)]
            )
            default_out = Path("runs/sweeps") / "+".join(dict.fromkeys(stems))
    except SpecError as exc:
        _fail(exc.problems)
    if seeds:
        spec.seeds = list(dict.fromkeys(seeds))
    if datasets:
        spec.datasets = list(datasets)
    spec.overrides = [*spec.overrides, *overrides]
    spec.steps = steps if steps is not None else spec.steps
    spec.quick = quick or spec.quick
    spec.jobs = jobs if jobs is not None else spec.jobs
    spec.batch_seeds = batch_seeds or spec.batch_seeds
    target = out or spec.out or default_out
    if engine == "ray" and storage is not None:
        from compose.cli._sweep_ray import on_storage

        target = on_storage(spec, storage, out or spec.out, default_out)
    plans = expand(spec, target)
    click.echo(f"sweep: {len(plans)} runs in {target}; validating every recipe ...", err=True)
    facts: dict[str, dict[str, Any]] = {}
    problems, planned_steps = validate(spec, plans, plugins=get_plugins(ctx), resolved=facts)
    problems = check_numbers(spec) + problems
    if problems:
        _fail(problems)
    if engine == "ray" and storage is not None:
        from compose.cli._sweep_ray import run_on_ray

        outcome = run_on_ray(
            spec,
            plans,
            facts,
            planned_steps,
            target=target,
            storage=storage,
            address=address,
            retries=retries,
            track=not no_track,
            dry_run=dry_run,
            fail=_fail,
            write_plan=_write_plan,
        )
        if outcome is None:  # --dry-run
            return
    else:
        cores = cpu_cores()
        threads = threads_per_run(spec.jobs, cores)
        if spec.jobs > cores:
            click.echo(
                f"warning: --jobs {spec.jobs} > {cores} cores: each run gets 1 thread and "
                "the runs share cores",
                err=True,
            )
        click.echo(
            f"sweep: all valid; {spec.jobs} at a time, runtime.threads={threads} ({cores} cores)",
            err=True,
        )
        if dry_run:
            for plan in plans:
                click.echo(
                    f"{plan.name}: {plan.recipe} " + " ".join(f"--set {o}" for o in plan.overrides)
                )
            return
        target.mkdir(parents=True, exist_ok=True)
        _write_plan(target, spec, plans, track=not no_track)
        outcome = run_local(
            spec,
            plans,
            jobs=spec.jobs,
            threads=threads,
            track=not no_track,
            planned_steps=planned_steps,
            echo=lambda s: click.echo(s, err=True),
        )
    counts = outcome.counts()
    click.echo("sweep: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v), err=True)
    _print_table(target, grouped=len(spec.seeds) > 1)
    if outcome.interrupted:
        click.echo(
            f"interrupted; resume with the same command (sweep directory {target})", err=True
        )
        raise SystemExit(130)
    if counts["failed"]:
        raise SystemExit(1)


def _write_plan(
    out: Path, spec: Any, plans: list[Any], *, track: bool, engine: str = "local"
) -> None:
    """``DIR/sweep.json``: the expanded runs (merged with earlier invocations by name)."""
    from compose.sweep.table import SWEEP_FILE, load_plan

    old = load_plan(out)
    runs = {r["name"]: r for r in old.get("runs", [])}
    runs.update({p.name: p.to_json() for p in plans})
    data = {
        "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "engine": engine,
        "track_repo": str(out / "aim") if track else None,
        "seeds": spec.seeds,
        "steps": spec.steps,
        "quick": spec.quick,
        "jobs": spec.jobs,
        "batch_seeds": spec.batch_seeds,
        "overrides": spec.overrides,
        "runs": list(runs.values()),
    }
    for o in spec.overrides:  # a track.repo override (e.g. an aim:// server) is where runs log
        if o.startswith("track.repo="):
            data["track_repo"] = o.split("=", 1)[1]
    (out / SWEEP_FILE).write_text(json.dumps(data, indent=2))


def _print_table(out: Path, grouped: bool) -> list[dict[str, Any]]:
    from rich.console import Console
    from rich.table import Table

    from compose.sweep.table import collect_rows, group_rows, table_cells

    rows = collect_rows(out)
    shown = group_rows(rows) if grouped else rows
    header, cells = table_cells(shown, grouped)
    table = Table(title=f"sweep {out}" + (" (grouped over seeds)" if grouped else ""))
    for h in header:
        table.add_column(h, overflow="fold")
    for row in cells:
        table.add_row(*row)
    Console(width=160).print(table)
    return shown


@sweep.command(name="table")
@click.argument("out", type=click.Path(file_okay=False, exists=True, path_type=Path), metavar="DIR")
@click.option(
    "--group",
    is_flag=True,
    help="One row per recipe/grid point: IQM [95% CI] of final and best score over seeds.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the rows as JSON.",
)
@click.option(
    "--md",
    "md_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a markdown table.",
)
def table_cmd(out: Path, group: bool, json_path: Path | None, md_path: Path | None) -> None:
    """One row per run of the sweep in DIR (status, normalized score, wall and phase times)."""
    from compose.sweep.table import to_markdown

    shown = _print_table(out, group)
    if not shown:
        click.echo(f"warning: no runs found in {out}", err=True)
    if json_path is not None:
        json_path.write_text(json.dumps(shown, indent=2))
    if md_path is not None:
        md_path.write_text(to_markdown(shown, group))


@sweep.command(name="plot")
@click.argument("out", type=click.Path(file_okay=False, exists=True, path_type=Path), metavar="DIR")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    required=True,
    help="An Aim metric name (repeatable), e.g. critic_target/q_mean.",
)
@click.option(
    "--out",
    "png",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The PNG file to write.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the series as JSON.",
)
@click.option("--repo", help="The Aim repo (default: the sweep's, from sweep.json, else DIR/aim).")
def plot_cmd(
    out: Path, metrics: tuple[str, ...], png: Path, json_path: Path | None, repo: str | None
) -> None:
    """Plot metric series of every run in DIR (one line per run, one colour per grid point)."""
    from compose.sweep.plot import plot_metrics

    result = plot_metrics(out, list(metrics), png, repo=repo, json_path=json_path)
    for line in result["missing"]:
        click.echo(f"warning: {line}", err=True)
    click.echo(f"wrote {png} ({len(result['runs'])} runs, {len(metrics)} metrics)", err=True)
    if not result["runs"]:
        raise SystemExit(1)
