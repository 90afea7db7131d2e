"""ROMI Fig. 2 in miniature: multi-step model rollout error vs horizon, with vs without weighting.

romi.txt Sec. 5.2 / Fig. 2 compares the k-step prediction error of the dynamics trained by
ROMI (bilevel adaptive weighting) and by "ROMI w/o adaptive weighting" (L_RVL alone). Here:
start at N dataset states whose next H transitions stay inside one episode, replay the
dataset's own actions through the model open loop for k = 1..H steps, and compare the
predicted states with the dataset's true states: MSE over state dimensions, in raw units and
normalized by the dataset's per-dimension state std (``nmse``, scale free).

Where the trained dynamics come from: each run directory's ``checkpoint.pt`` (written by
``compose run`` at the end of the run; ``components.dynamics`` holds the dynamics' weights,
normalizers and elites). Not the model cache: the cache holds the model after the model
phase only, while ROMI and RAMBO keep training the dynamics during the policy phase. The
dynamics are rebuilt from the run's own resolved ``recipe.yaml`` and the state is loaded into
them; the rest of the checkpoint is ignored.

Modes: ``mean`` (default) rolls each elite forward on its own predicted means (deterministic;
the error is averaged over the elites); ``sample`` uses ``dynamics.sample`` as the training
rollouts do (a random elite per row and step, Gaussian noise).

    python experiments/romi/rollout_error.py --sweep runs/sweeps/romi_weighting \
        --horizon 20 --starts 1000 --out experiments/romi/results/rollout_error
    python experiments/romi/rollout_error.py --run romi=RUN_DIR --run romi_no_weighting=RUN_DIR2 ...

Writes OUT.json (per label, or per label and dataset when the runs cover several datasets:
mean and std over runs of the error at each k; per run too) and OUT.png (error vs k, one line
per group, shaded +- std over runs/seeds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]


def load_dynamics(run_dir: Path, device: torch.device) -> tuple[Any, Any, dict[str, Any]]:
    """(dynamics with the run's final weights, the run's dataset, the run's summary)."""
    from compose.recipe import load_recipe
    from compose.train.build import build_parts
    from compose.train.checkpoint import load_checkpoint, load_component_state

    loaded = load_recipe(run_dir / "recipe.yaml")
    data = loaded.recipe.dataset.load().to(device)
    parts = build_parts(loaded.recipe, data, device)
    state = load_checkpoint(run_dir / "checkpoint.pt", device)
    load_component_state(parts.dynamics, state["components"]["dynamics"])
    parts.dynamics.eval()
    summary = (
        json.loads((run_dir / "summary.json").read_text())
        if (run_dir / "summary.json").is_file()
        else {}
    )
    summary.setdefault("checkpoint_step", int(state["step"]))
    return parts.dynamics, data, summary


def segment_starts(data: Any, horizon: int) -> torch.Tensor:
    """Rows i whose transitions i..i+horizon-1 are consecutive steps of one episode."""
    n = int(data.obs.shape[0])
    cont = torch.zeros(n, dtype=torch.bool, device=data.obs.device)
    if n > 1:
        same = torch.isclose(data.next_obs[:-1], data.obs[1:], atol=1e-5).all(dim=1)
        cont[:-1] = same & (data.terminals[:-1] == 0) & (data.timeouts[:-1] == 0)
        cont[:-1] &= ~data.episode_starts[1:].bool()
    # valid start i: cont[i .. i+horizon-2] all true (the last step may end the episode)
    c = torch.cat([torch.zeros(1, device=cont.device), torch.cumsum(cont.float(), 0)])
    idx = torch.arange(0, max(n - horizon + 1, 0), device=cont.device)
    ok = (c[idx + horizon - 1] - c[idx]) == horizon - 1
    return idx[ok]


@torch.no_grad()
def rollout_errors(
    dynamics: Any, data: Any, starts: torch.Tensor, horizon: int, mode: str, obs_std: torch.Tensor
) -> dict[str, list[float]]:
    """MSE and std-normalized MSE of the predicted state at k = 1..horizon."""
    steps = torch.arange(horizon, device=starts.device)
    rows = starts[:, None] + steps[None, :]  # [N, H]
    actions = data.actions[rows]  # [N, H, da]
    truth = data.next_obs[rows]  # [N, H, do]
    elites = dynamics.elites.to(starts.device).long()
    s = data.obs[starts]
    if mode == "mean":  # one trajectory per member: [E, N, do]
        members = dynamics.predict(s[:1], actions[:1, 0]).members
        s = s.unsqueeze(0).expand(members, -1, -1).contiguous()
    mse, nmse = [], []
    for k in range(horizon):  # the horizon is sequential by nature
        if mode == "mean":
            a = actions[:, k].unsqueeze(0).expand(s.shape[0], -1, -1)
            pred = dynamics.predict(s, a)
            s = s + pred.mean[..., :-1]  # every member on its own trajectory
            err = (s[elites] - truth[:, k].unsqueeze(0)) ** 2  # [elites, N, do]
        else:
            s = dynamics.sample(s, actions[:, k]).next_obs
            err = ((s - truth[:, k]) ** 2).unsqueeze(0)
        mse.append(float(err.mean()))
        nmse.append(float((err / obs_std**2).mean()))
    return {"mse": mse, "nmse": nmse}


def _runs_from_sweep(sweep: Path) -> list[tuple[str, Path]]:
    plan = json.loads((sweep / "sweep.json").read_text())
    return [
        (r["label"], Path(r["run_dir"]))
        for r in plan["runs"]
        if (Path(r["run_dir"]) / "checkpoint.pt").is_file()
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="LABEL=RUN_DIR",
        help="a finished run (repeatable; several dirs per label = seeds)",
    )
    p.add_argument("--sweep", type=Path, help="every run with a checkpoint in this sweep, by label")
    p.add_argument("--horizon", type=int, default=20)
    p.add_argument("--starts", type=int, default=1000, help="rollout start states (N)")
    p.add_argument("--mode", choices=["mean", "sample"], default="mean")
    p.add_argument("--seed", type=int, default=0, help="seed of the start-state draw")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=Path("experiments/romi/results/rollout_error"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    runs: list[tuple[str, Path]] = _runs_from_sweep(args.sweep) if args.sweep else []
    for item in args.run:
        label, sep, path = item.partition("=")
        if not sep:
            p.error(f"--run {item!r}: expected LABEL=RUN_DIR")
        runs.append((label, Path(path)))
    if not runs:
        p.error("no runs: give --run LABEL=RUN_DIR (repeatable) or --sweep DIR")
    for _, d in runs:
        if not (d / "checkpoint.pt").is_file():
            p.error(f"{d}: no checkpoint.pt (run it first: compose run ... --run-dir {d})")

    per_run: list[dict[str, Any]] = []
    starts_cache: dict[str, torch.Tensor] = {}
    for label, run_dir in runs:
        dynamics, data, summary = load_dynamics(run_dir, device)
        key = summary.get("dataset_id") or data.info.dataset_id
        if key not in starts_cache:  # the same start states for every run on one dataset
            valid = segment_starts(data, args.horizon)
            if len(valid) == 0:
                p.error(f"{key}: no episode segment of {args.horizon} steps")
            g = torch.Generator().manual_seed(args.seed)
            pick = torch.randperm(len(valid), generator=g)[: args.starts].to(valid.device)
            starts_cache[key] = valid[pick]
        obs_std = data.obs.std(dim=0).clamp_min(1e-6)
        torch.manual_seed(args.seed)
        errs = rollout_errors(dynamics, data, starts_cache[key], args.horizon, args.mode, obs_std)
        per_run.append(
            {
                "label": label,
                "run_dir": str(run_dir),
                "dataset": key,
                "steps": summary.get("steps", summary.get("checkpoint_step")),
                **errs,
            }
        )
        print(
            f"{label:24s} {run_dir}: nmse k=1 {errs['nmse'][0]:.4g}, k={args.horizon} "
            f"{errs['nmse'][-1]:.4g}",
            file=sys.stderr,
        )

    # One curve per label, or per (label, dataset) when the runs cover several datasets.
    several = len({r["dataset"] for r in per_run}) > 1
    for r in per_run:
        r["group"] = f"{r['label']} ({r['dataset']})" if several else r["label"]
    labels = list(dict.fromkeys(r["group"] for r in per_run))
    summary_out: dict[str, Any] = {}
    for label in labels:
        rs = [r for r in per_run if r["group"] == label]
        entry: dict[str, Any] = {"n_runs": len(rs)}
        for metric in ("mse", "nmse"):
            cols = list(zip(*(r[metric] for r in rs), strict=True))
            entry[metric] = [statistics.fmean(c) for c in cols]
            entry[f"{metric}_std"] = [statistics.stdev(c) if len(c) > 1 else 0.0 for c in cols]
        summary_out[label] = entry
    result = {
        "horizon": args.horizon,
        "starts": args.starts,
        "mode": args.mode,
        "seed": args.seed,
        "by_label": summary_out,
        "runs": per_run,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ks = list(range(1, args.horizon + 1))
    for label, entry in summary_out.items():
        m, sd = entry["nmse"], entry["nmse_std"]
        ax.plot(ks, m, label=f"{label} (n={entry['n_runs']})")
        ax.fill_between(
            ks,
            [a - b for a, b in zip(m, sd, strict=True)],
            [a + b for a, b in zip(m, sd, strict=True)],
            alpha=0.2,
        )
    ax.set_xlabel("rollout step k")
    ax.set_ylabel("state MSE / dataset state variance")
    ax.set_yscale("log")
    ax.set_title(f"open-loop model rollout error ({args.mode}, N={args.starts})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out.with_suffix(".png"), dpi=110)
    print(
        f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.png')}", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
