"""``compose compare``: group finished runs and print IQMs with bootstrap intervals.

    compose compare runs/sweeps/policy_comparison [--by recipe|FIELD] [--metric eval/normalized_score]
    compose compare runs/a runs/b .aim --by model_learner.aux_losses --pair A B --plot cmp.png

Exit status: 0 ok, 2 bad input (no runs, incomparable runs, an unknown group).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from compose.cli._common import EXIT_BAD_INPUT

__all__ = ["compare"]


def _fail(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    raise SystemExit(EXIT_BAD_INPUT)


@click.command(name="compare")
@click.argument("targets", nargs=-1, required=True, metavar="RUN_DIR_OR_SWEEP...")
@click.option(
    "--by",
    default="recipe",
    show_default=True,
    metavar="recipe|FIELD",
    help="Group by the recipe (a sweep's label and grid values), or by a dotted field "
    "of the resolved recipe, e.g. model_learner.aux_losses or critic_target.type.",
)
@click.option(
    "--metric",
    default="eval/normalized_score",
    show_default=True,
    help="The evaluation metric (an eval/* key of summary.json, or any Aim metric "
    "when reading an Aim repo).",
)
@click.option(
    "--last",
    "last",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Final score = the mean of each run's last K evaluations.",
)
@click.option(
    "--pair",
    "pairs",
    nargs=2,
    multiple=True,
    metavar="A B",
    help="Print P(A > B) for these two groups (repeatable; default: the two groups "
    "when there are two).",
)
@click.option(
    "--mixed-datasets",
    is_flag=True,
    help="Compare runs on different datasets (each dataset a bootstrap stratum).",
)
@click.option("--mixed-budgets", is_flag=True, help="Compare runs of different lengths.")
@click.option(
    "--reps",
    type=click.IntRange(min=100),
    default=10_000,
    show_default=True,
    help="Bootstrap resamples.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option(
    "--plot",
    "png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write learning curves (and, for > 2 groups, the interval plot) to this PNG.",
)
@click.option(
    "--md",
    "md_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the table as markdown.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write everything as JSON.",
)
def compare(
    targets: tuple[str, ...],
    by: str,
    metric: str,
    last: int,
    pairs: tuple[tuple[str, str], ...],
    mixed_datasets: bool,
    mixed_budgets: bool,
    reps: int,
    seed: int,
    png: Path | None,
    md_path: Path | None,
    json_path: Path | None,
) -> None:
    """Compare finished runs: per group the IQM of final and best scores with 95% intervals."""
    from rich.console import Console
    from rich.table import Table

    from compose.compare import CompareInputError, check_comparable, collect_runs
    from compose.compare import compare as run_compare
    from compose.compare.report import (
        pair_lines,
        small_sample_note,
        table_cells,
        to_json,
        to_markdown,
    )

    try:
        records = collect_runs(list(targets), metric)
        finished = [r for r in records if r.status == "finished"]
        problems = check_comparable(
            finished, mixed_datasets=mixed_datasets, mixed_budgets=mixed_budgets
        )
        if problems:
            _fail(problems)
        result = run_compare(
            records, by=by, metric=metric, last=last, pairs=list(pairs), reps=reps, seed=seed
        )
    except CompareInputError as exc:
        _fail(str(exc).splitlines())
    for line in result.skipped:
        click.echo(f"warning: skipped {line}", err=True)
    if any(not g["history"] for g in result.groups):
        click.echo(
            "note: runs read from a table JSON have only their final score "
            "(no best score, no curve)",
            err=True,
        )
    header, cells = table_cells(result)
    table = Table(title=f"{metric} by {by}")
    for h in header:
        table.add_column(h, overflow="fold")
    for row in cells:
        table.add_row(*row)
    Console(width=160).print(table)
    for line in pair_lines(result):
        click.echo(line)
    note = small_sample_note(result)
    if note:
        click.echo(f"note: {note}", err=True)
    if md_path is not None:
        md_path.write_text(to_markdown(result))
    if json_path is not None:
        json_path.write_text(json.dumps(to_json(result), indent=2))
    if png is not None:
        from compose.compare.plot import plot_comparison

        try:
            notes = plot_comparison(result, png)
        except RuntimeError as exc:
            _fail([str(exc)])
        for note in notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"wrote {png}", err=True)
