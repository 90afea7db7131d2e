"""Seed batching's speed: K seeds' policy updates as one vmapped step vs K separate steps.

``python -m compose.bench.seeds --k 1 2 4 [--recipe mopo] [--device cuda] [--json F]``
(also ``compose bench --only g``). For each K, K copies of the recipe's parts are built at the
reference shapes (their model buffers filled by one rollout each, as case (b) does), and the
trainer's per-step work is timed: per-seed sampling from the stacked buffers, the
:class:`compose.train.seed_step.SeedBatchedStep`, the non-finite watch. The baseline is the
ordinary single-seed step (case (b)'s harness) measured in the same process: K separate runs
cost K times that. Reported: seconds per 1000 batched steps, per 1000 steps of one seed, and
the speed-up over K separate runs (> 1: batching pays).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from compose.bench.harness import (
    SHAPES,
    PolicyHarness,
    Shapes,
    choose_dataset,
    load_bench_recipe,
    make_parts,
)
from compose.bench.timing import Sample, time_repeats
from compose.train.buffers import SeedBuffers
from compose.train.seed_step import SeedBatchedStep
from compose.train.watch import NonFiniteWatch

__all__ = ["SeedBatchHarness", "bench_seeds"]


class SeedBatchHarness:
    """K seeds' per-step policy-phase work, as :class:`compose.train.seed_batch` does it."""

    def __init__(self, harnesses: list[PolicyHarness], recipe: Any) -> None:
        self.k = len(harnesses)
        device = harnesses[0].parts.ctx.device
        self.generators = [torch.Generator(device=device).manual_seed(i) for i in range(self.k)]
        self.step_fn = SeedBatchedStep([h.parts for h in harnesses], self.generators,
                                       recipe.train.tau)
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


def bench_seeds(
    ks: list[int], recipe_name: str = "mopo", device: str = "cpu", steps: int = 100,
    repeats: int = 3, warmup: int = 10, shapes: Shapes | None = None, dataset_id: str | None = None,
) -> dict[str, Any]:
    """Time K = ``ks`` batched seeds against the single-seed step; returns the rows as JSON."""
    shapes = shapes or SHAPES["reference"]
    dataset_id = dataset_id or choose_dataset(None)[0]
    dev = torch.device(device)
    from compose.data.loading import load_minari

    data = load_minari(dataset_id, download=False).to(dev)
    recipe = load_bench_recipe(recipe_name, dataset_id, shapes)

    def harness(seed: int) -> PolicyHarness:
        torch.manual_seed(seed)
        return PolicyHarness(make_parts(recipe, data, dev), recipe, shapes.batch, shapes.fill_starts)

    def timed(step: Any) -> Sample:
        return time_repeats(step, steps=steps, repeats=repeats, warmup=warmup, device=dev).scaled(
            1000.0
        )

    single = timed(harness(0).step)
    rows = [{"k": 1, "mode": "separate", "s_per_1000": single.median, "min": single.min,
             "max": single.max}]
    for k in ks:
        batched = timed(SeedBatchHarness([harness(i) for i in range(k)], recipe).step)
        rows.append({
            "k": k, "mode": "batched", "s_per_1000": batched.median, "min": batched.min,
            "max": batched.max, "s_per_1000_per_seed": batched.median / k,
            "speedup_vs_separate": k * single.median / batched.median,
        })
    return {"recipe": recipe_name, "device": str(dev), "dataset": dataset_id,
            "batch": shapes.batch, "steps_per_repeat": steps, "repeats": repeats, "rows": rows}


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
    out = bench_seeds(args.k, args.recipe, args.device, args.steps, args.repeats,
                      shapes=SHAPES[args.shapes])
    out["threads"] = args.threads
    print(f"{out['recipe']} update, batch {out['batch']}, {out['device']}, {args.threads} threads")
    print(f"{'K':>3} {'mode':>9} {'s/1000 steps':>13} {'per seed':>9} {'vs separate':>12}")
    for r in out["rows"]:
        per_seed = r.get("s_per_1000_per_seed", r["s_per_1000"])
        speed = r.get("speedup_vs_separate")
        print(f"{r['k']:>3} {r['mode']:>9} {r['s_per_1000']:>13.2f} {per_seed:>9.2f} "
              f"{'' if speed is None else f'{speed:.2f}x':>12}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
