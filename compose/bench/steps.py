"""CPU milliseconds per step of the hot paths, for before/after comparisons of speed work.

``python -m compose.bench.steps [--only a,b,c,d,e] [--steps 200] [--repeats 3] [--threads 1]``
prints, per case, the median (and min-max) of process CPU time per step over ``repeats``
blocks of ``steps`` steps after a warm-up, at the reference shapes:

- a: dynamics MLE step (recipes/mbpo.yaml's 7 x 4x200 ensemble, batch 256);
- b: MOPO policy update (SAC, batch 256, 2 critics 256x256);
- c: MOPO rollout of 50k starts x 5 steps (ms per round, not per step);
- d: MOBILE policy update including its Bellman-inconsistency penalty (10 samples);
- e: VIPO model-learner step (recipes/vipo_mobile.yaml: MLE + value_inconsistency,
  its value-net update and its surrogate, as ``mle`` runs them in ``pretrain``).

Why process CPU time at 1 thread: on a shared, oversubscribed machine wall time measures the
neighbours; CPU time of a single-threaded process measures the work.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def _cpu_ms(step: Callable[[int], Any], steps: int, repeats: int, warmup: int) -> list[float]:
    """CPU ms per call of ``step(i)`` for each of ``repeats`` blocks of ``steps`` calls."""
    i = 0
    for _ in range(warmup):
        step(i)
        i += 1
    out = []
    for _ in range(repeats):
        c0 = time.process_time()
        for _ in range(steps):
            step(i)
            i += 1
        out.append(1000.0 * (time.process_time() - c0) / steps)
    return out


def vipo_model_step(parts: Any, batch: int) -> Callable[[int], None]:
    """One ``mle`` gradient step with its aux losses (value_inconsistency), as in pretrain;
    ``batch``: the recipe's ``model_learner.batch_size``."""
    import torch

    learner, dyn, data = parts.model_learner, parts.dynamics, parts.data
    holdout = 1000
    n_train = len(data) - holdout
    cols = (
        data.obs[:n_train],
        data.actions[:n_train],
        data.next_obs[:n_train],
        data.rewards.reshape(-1)[:n_train],
        data.terminals.reshape(-1).float()[:n_train],
    )
    trainer = learner.trainer(dyn, cols)
    order = torch.rand(dyn.members, n_train, device=cols[0].device).argsort(dim=1)
    per_epoch = n_train // batch

    def step(i: int) -> None:
        k = i % per_epoch
        trainer.step(order[:, k * batch : (k + 1) * batch])

    dyn.train()
    return step


def main(argv: list[str] | None = None) -> None:
    """Measure the selected cases and print (and optionally write) CPU ms per step."""
    parser = argparse.ArgumentParser(prog="python -m compose.bench.steps")
    parser.add_argument("--only", default="a,b,c,d,e")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)

    import torch

    from compose.bench.harness import (
        SHAPES,
        PolicyHarness,
        choose_dataset,
        dynamics_step,
        load_bench_recipe,
        make_parts,
        rollout_fn,
    )
    from compose.data.loading import load_minari
    from compose.train.buffers import TransitionBuffer

    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    shapes = SHAPES["reference"]
    dataset_id, _ = choose_dataset(args.dataset)
    data = load_minari(dataset_id, download=False).to(device)
    extra = tuple(args.overrides)
    results: dict[str, Any] = {}

    def report(key: str, values: list[float], unit: str = "ms/step") -> None:
        med = statistics.median(values)
        results[key] = {"median": med, "values": values, "unit": unit}
        print(f"{key:<16} {med:9.2f} {unit}  [{min(values):.2f}-{max(values):.2f}]", flush=True)

    for letter in args.only.split(","):
        torch.manual_seed(0)
        if letter == "a":
            recipe = load_bench_recipe("mbpo", dataset_id, shapes, extra)
            parts = make_parts(recipe, data, device)
            step, _, _ = dynamics_step(parts, recipe.model_learner.batch_size)
            report("a_dynamics", _cpu_ms(step, args.steps, args.repeats, args.warmup))
        elif letter in ("b", "d"):
            name = "mopo" if letter == "b" else "mobile"
            recipe = load_bench_recipe(name, dataset_id, shapes, extra)
            parts = make_parts(recipe, data, device)
            harness = PolicyHarness(parts, recipe, shapes.batch, shapes.fill_starts)
            steps = args.steps if letter == "b" else max(args.steps // 4, 10)
            report(f"{letter}_{name}", _cpu_ms(harness.step, steps, args.repeats, args.warmup))
        elif letter == "c":
            recipe = load_bench_recipe("mopo", dataset_id, shapes, extra)
            parts = make_parts(recipe, data, device)
            parts.dynamics.eval()
            parts.dynamics.termination = None
            ro = recipe.rollout
            real = TransitionBuffer.from_tensors(
                data.obs, data.actions, data.rewards, data.next_obs, data.terminals.bool(), device
            )
            buffer = TransitionBuffer(
                ro.batch_size * ro.length * ro.retain, parts.ctx.obs_dim, parts.ctx.act_dim, device
            )
            run = rollout_fn(
                parts, recipe, buffer, real, shapes.rollout_starts, shapes.rollout_length
            )
            report("c_rollout", _cpu_ms(lambda _i, run=run: run(), 1, args.repeats, 1), "ms/round")
        elif letter == "e":
            recipe = load_bench_recipe("vipo_mobile", dataset_id, shapes, extra)
            parts = make_parts(recipe, data, device)
            step = vipo_model_step(parts, recipe.model_learner.batch_size)
            report(
                "e_vipo_model", _cpu_ms(step, max(args.steps // 2, 10), args.repeats, args.warmup)
            )
        else:
            print(f"unknown case {letter!r}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "threads": args.threads,
                    "dataset": dataset_id,
                    "overrides": extra,
                    "results": results,
                },
                fh,
                indent=2,
            )


if __name__ == "__main__":
    main()
