"""``compose bench``: time our hot paths at the reference's shapes; table + JSON.

Example: ``compose bench --only a,b --repeats 3 --json bench.json``; ``--quick`` for a short
smoke run (fewer repeats, 50 steps per repeat, extrapolated).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["bench"]

_ONLY_HELP = (
    "Comma-separated cases: a dynamics training, b MOPO update, c MOPO rollout, d MOBILE update, "
    "e peak RSS of a MOPO run, f GFLOP/s of a, b, c, d, g K seeds as one batch vs K separate "
    "runs (default: all)."
)


@click.command()
@click.option("--only", default="a,b,c,d,e,f,g", show_default=True, help=_ONLY_HELP)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the result as JSON to this file.",
)
@click.option("--quick", is_flag=True, help="Few repeats and 50 steps per repeat (smoke/CI).")
@click.option("--repeats", type=click.IntRange(min=1), help="Timed repeats (default 5; quick 2).")
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    help="Gradient steps per repeat, extrapolated to 1000 (default 200; quick 50).",
)
@click.option("--warmup", type=click.IntRange(min=0), help="Warm-up steps (default 20; quick 5).")
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="torch threads (the reference used 2).",
)
@click.option(
    "--dataset",
    help="Minari dataset id (default: the factory's hopper medium if "
    "local, else hopper random, made when absent).",
)
@click.option(
    "--shapes",
    type=click.Choice(["reference", "toy"]),
    default="reference",
    show_default=True,
    help="toy: tiny networks, for smoke tests only.",
)
@click.option(
    "--omp-wait",
    type=click.Choice(["auto", "passive", "active", "default"]),
    default="auto",
    show_default=True,
    help="OMP_WAIT_POLICY for torch's threads; auto: passive when the machine is "
    "oversubscribed (load average > CPUs).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Recipe override for every case (repeatable), e.g. "
    "--set rollout.chunk_size=2000; recorded in the JSON.",
)
@click.option(
    "--seeds-k",
    default="",
    metavar="K1,K2,...",
    help="(g) numbers of seeds to batch (default 1,2,4 on a CPU, 1,8,32 on a GPU).",
)
def bench(
    only: str,
    json_path: Path | None,
    quick: bool,
    repeats: int | None,
    steps: int | None,
    warmup: int | None,
    device: str,
    threads: int,
    dataset: str | None,
    shapes: str,
    omp_wait: str,
    overrides: tuple[str, ...],
    seeds_k: str,
) -> None:
    """Time dynamics training, MOPO/MOBILE updates, rollouts and peak memory.

    Prints our median [min-max] beside the reference implementation's figures with the
    speed-up (> 1: faster than the reference) and issue 5's targets.
    """
    from rich.console import Console

    from compose.bench import CASES, BenchOptions, bench_table, run_bench

    chosen = tuple(c.strip().lower() for c in only.split(",") if c.strip())
    bad = [c for c in chosen if c not in CASES]
    if bad or not chosen:
        raise click.BadParameter(
            f"unknown case(s) {bad}; choose from {','.join(CASES)}", param_hint="--only"
        )
    try:
        ks = tuple(int(k) for k in seeds_k.split(",") if k.strip())
    except ValueError:
        raise click.BadParameter(
            f"{seeds_k!r}: comma-separated positive integers, e.g. 1,2,4", param_hint="--seeds-k"
        ) from None
    if any(k < 1 for k in ks):
        raise click.BadParameter(f"{seeds_k!r}: each K must be >= 1", param_hint="--seeds-k")
    console = Console(width=None if Console().is_terminal else 150)
    err = Console(stderr=True)
    opts = BenchOptions(
        only=chosen,
        quick=quick,
        repeats=repeats,
        steps=steps,
        warmup=warmup,
        device=device,
        threads=threads,
        dataset=dataset,
        shapes=shapes,
        omp_wait=omp_wait,
        overrides=overrides,
        seeds_k=ks,
    )
    result = run_bench(opts, say=lambda s: err.print(s, highlight=False))
    if result["rows"]:
        console.print(bench_table(result))
    if "seeds" in result:
        from compose.bench.seeds import seeds_table

        console.print(seeds_table(result["seeds"]))
    for note in result["notes"]:
        console.print(f"  note: {note}", highlight=False, markup=False)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2))
        err.print(f"wrote {json_path}")
