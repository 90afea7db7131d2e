"""Where the time goes: torch.profiler over the MOPO update and a MOPO rollout round.

``python -m compose.bench.profile [--steps 50] [--starts 50000] [--threads 2] [--rows 25]``
prints the operators by self CPU time (and CUDA time on a GPU) for (b) the MOPO update at
batch 256 and (c) one rollout round, at the reference shapes, through the same code paths
as ``compose bench``. Findings are summarized in compose/bench/PROFILE.md.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Profile the MOPO update and a rollout round; print the top operators."""
    parser = argparse.ArgumentParser(prog="python -m compose.bench.profile")
    parser.add_argument("--steps", type=int, default=50, help="profiled update steps")
    parser.add_argument("--starts", type=int, default=50_000, help="rollout starts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=25, help="operators shown per table")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--only", default="b,c", help="b: MOPO update, c: rollout, d: MOBILE")
    args = parser.parse_args(argv)

    from compose.bench.runner import apply_omp_wait

    print(f"OMP_WAIT_POLICY: {apply_omp_wait('auto')}; load {os.getloadavg()}", file=sys.stderr)
    import torch
    from torch.profiler import ProfilerActivity, profile

    from compose.bench.harness import (
        SHAPES,
        PolicyHarness,
        choose_dataset,
        load_bench_recipe,
        make_parts,
        rollout_fn,
    )
    from compose.data.loading import load_minari
    from compose.train.runtime import resolve_device

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    shapes = SHAPES["reference"]
    dataset_id, _ = choose_dataset(args.dataset)
    data = load_minari(dataset_id, download=False).to(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    only = args.only.split(",")

    for letter, name in (("b", "mopo"), ("d", "mobile")):
        if letter not in only:
            continue
        torch.manual_seed(0)
        recipe = load_bench_recipe(name, dataset_id, shapes)
        parts = make_parts(recipe, data, device)
        harness = PolicyHarness(parts, recipe, shapes.batch, shapes.fill_starts)
        for i in range(10):
            harness.step(i)
        with profile(activities=activities) as prof:
            for i in range(args.steps):
                harness.step(i)
        print(f"\n== {name} update, batch {shapes.batch}, {args.steps} steps ==")
        print(prof.key_averages().table(sort_by=sort, row_limit=args.rows))

    if "c" in only:
        torch.manual_seed(0)
        recipe = load_bench_recipe("mopo", dataset_id, shapes)
        parts = make_parts(recipe, data, device)
        parts.dynamics.eval()
        parts.dynamics.termination = None
        harness = PolicyHarness(parts, recipe, shapes.batch, 1000)
        run = rollout_fn(
            parts, recipe, harness.model, harness.real, args.starts, shapes.rollout_length
        )
        run()
        with profile(activities=activities, profile_memory=True) as prof:
            run()
        print(f"\n== MOPO rollout, {args.starts} x {shapes.rollout_length} ==")
        print(prof.key_averages().table(sort_by=sort, row_limit=args.rows))


if __name__ == "__main__":
    main()
