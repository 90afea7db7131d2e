"""Seed batching's speed: K seeds' policy updates as one vmapped step vs K separate steps.

``compose bench --only g [--seeds-k 1,8,32]`` (or standalone:
``python -m compose.bench.seeds --k 1 2 4 [--recipe mobile] [--device cuda] [--json F]``). For each K, K copies of the recipe's parts are built at the
reference shapes (their model buffers filled by one rollout each, as case (b) does), and the
trainer's per-step work is timed: per-seed sampling from the stacked buffers, the
:class:`compose.train.seeds.step.SeedBatchedStep`, the non-finite watch. The baseline is the
ordinary single-seed step (case (b)'s harness) measured in the same process: K separate runs
cost K times that. Reported: seconds per 1000 batched steps, per 1000 steps of one seed, and
the speed-up over K separate runs (> 1: batching pays).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from compose.bench.cases import Settings
from compose.bench.harness import (
    SHAPES,
    PolicyHarness,
    choose_dataset,
    load_bench_recipe,
    make_parts,
)
from compose.bench.report import fmt_range
from compose.bench.timing import Sample, time_repeats
from compose.train.buffers import SeedBuffers
from compose.train.seeds.step import SeedBatchedStep
from compose.train.watch import NonFiniteWatch

__all__ = ["SeedBatchHarness", "bench_seeds", "case_seeds", "default_ks", "seeds_table"]


class SeedBatchHarness:
    """K seeds' per-step policy-phase work, as :class:`compose.train.seeds.batch` does it."""

    def __init__(self, harnesses: list[PolicyHarness], recipe: Any) -> None:
        self.k = len(harnesses)
        device = harnesses[0].parts.ctx.device
        self.generators = [torch.Generator(device=device).manual_seed(i) for i in range(self.k)]
        self.step_fn = SeedBatchedStep(
            [h.parts for h in harnesses], self.generators, recipe.train.tau
        )
        self.real = SeedBuffers([harnesses[0].real] * self.k)
        self.model = SeedBuffers([h.model for h in harnesses])
        self.n_real, self.n_model = harnesses[0].n_real, harnesses[0].n_model
        self.watch = NonFiniteWatch(device)
        self.seeds = list(range(self.k))

    def step(self, i: int) -> None:
        """Sample every seed's batch, update all seeds, observe."""
        real = self.real.sample(self.n_real, self.generators)
        model = self.model.sample(self.n_model, self.generators) if self.n_model > 0 else None
        self.watch.observe(i, self.step_fn(i, real, model), self.seeds)


def default_ks(device: torch.device) -> list[int]:
    """K values measured by default: 1, 2, 4 on a CPU; 1, 8, 32 on a GPU (issue 5)."""
    return [1, 8, 32] if device.type == "cuda" else [1, 2, 4]


def case_seeds(data: Any, s: Settings, ks: list[int], recipe_name: str = "mopo") -> dict[str, Any]:
    """(g) K seeds batched vs K separate runs' steps, at the reference shapes (JSON rows)."""
    recipe = load_bench_recipe(recipe_name, s.dataset_id, s.shapes, s.overrides)

    def harness(seed: int) -> PolicyHarness:
        torch.manual_seed(seed)
        parts = make_parts(recipe, data, s.device)
        return PolicyHarness(parts, recipe, s.shapes.batch, s.shapes.fill_starts)

    def timed(step: Any) -> Sample:
        return time_repeats(
            step, steps=s.steps, repeats=s.repeats, warmup=s.warmup, device=s.device
        ).scaled(1000.0)

    single = timed(harness(0).step)
    rows: list[dict[str, Any]] = [
        {
            "k": 1,
            "mode": "separate",
            "s_per_1000": single.median,
            "min": single.min,
            "max": single.max,
            "cpu": single.to_json()["cpu_median"],
            "s_per_1000_per_seed": single.median,
        }
    ]
    for k in ks:
        batched = timed(SeedBatchHarness([harness(i) for i in range(k)], recipe).step)
        rows.append(
            {
                "k": k,
                "mode": "batched",
                "s_per_1000": batched.median,
                "min": batched.min,
                "max": batched.max,
                "cpu": batched.to_json()["cpu_median"],
                "s_per_1000_per_seed": batched.median / k,
                "speedup_vs_separate": k * single.median / batched.median,
            }
        )
    return {"recipe": recipe_name, "batch": s.shapes.batch, "rows": rows}


def bench_seeds(
    ks: list[int],
    recipe_name: str = "mopo",
    device: str = "cpu",
    steps: int = 100,
    repeats: int = 3,
    warmup: int = 10,
    shapes: str = "reference",
) -> dict[str, Any]:
    """:func:`case_seeds` on the bench's default dataset, standalone."""
    dataset_id = choose_dataset(None)[0]
    dev = torch.device(device)
    from compose.data.loading import load_minari

    data = load_minari(dataset_id, download=False).to(dev)
    settings = Settings(
        steps=steps,
        repeats=repeats,
        warmup=warmup,
        flops=False,
        device=dev,
        shapes=SHAPES[shapes],
        dataset_id=dataset_id,
    )
    return {
        **case_seeds(data, settings, ks, recipe_name),
        "device": str(dev),
        "dataset": dataset_id,
        "steps_per_repeat": steps,
        "repeats": repeats,
    }


def seeds_table(seeds: dict[str, Any]) -> Table:
    """The (g) rows: s per 1000 batched steps, per seed, and the speed-up over separate runs."""
    table = Table(
        title=f"(g) {seeds['recipe']} update, batch {seeds['batch']}: K seeds as one "
        "batch vs K separate runs (speed-up > 1: batching pays)",
        title_justify="left",
    )
    for name in ("K", "mode", "s / 1000 steps", "cpu", "per seed", "vs K separate"):
        table.add_column(name, justify="right")
    for r in seeds["rows"]:
        speed = r.get("speedup_vs_separate")
        table.add_row(
            str(r["k"]),
            r["mode"],
            fmt_range(r["s_per_1000"], r["min"], r["max"]),
            fmt_range(r.get("cpu"), None, None),
            fmt_range(r["s_per_1000_per_seed"], None, None),
            "" if speed is None else f"{speed:.2f}x",
        )
    return table


def main(argv: list[str] | None = None) -> None:
    """Command line: print the table (and write JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--recipe", default="mopo")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", choices=sorted(SHAPES), default="reference")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = bench_seeds(
        args.k, args.recipe, args.device, args.steps, args.repeats, shapes=args.shapes
    )
    out["threads"] = args.threads
    Console().print(seeds_table(out))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
