"""VIPO Sec. 4.2 / Fig. 2 in miniature: max-aleatoric uncertainty as neighbourhood data is dropped.

vipo.txt Sec. 4.2.2: pick ``--anchors`` random transitions; the candidate set is every
(s, a) of the dataset within the box (s +- r, a +- r) of some anchor (r = ``--radius``, 0.8
in the paper), anchors included. For each drop ratio, remove that fraction of the candidates
at random, train a model on the rest of the dataset with the original loss (MLE, as MOPO) and
with VIPO, and measure U(s, a) = max_k ||Sigma_k(s, a)||_F (Eq. 12; the diagonal std of the
elites over (delta s, r)) averaged over the anchors. A model that captures epistemic
uncertainty should show U growing with the drop ratio.

    python experiments/vipo/uncertainty_vs_data.py --dataset compose/walker2d/medium-replay-v0 \
        --ratios 0 0.5 1 --seeds 0 --max-updates 3000 --out experiments/vipo/results/uncertainty

Writes ``<out>.json`` (every run) and ``<out>.png`` (mean +- std over seeds per method).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from compose.recipe import load_recipe
from compose.train.build import build_parts
from compose.train.runtime import seed_everything

SELECTION_SEED = 2024  # anchors and candidates are the same for every run


def candidates(
    data: Any, anchors: int, radius: float, chunk: int = 4096
) -> tuple[torch.Tensor, torch.Tensor]:
    """(anchor rows [A], candidate rows [C]): rows within the L-inf box of radius of an anchor."""
    g = torch.Generator().manual_seed(SELECTION_SEED)
    n = len(data)
    anchor_rows = torch.randperm(n, generator=g)[:anchors]
    x = torch.cat([data.obs, data.actions], -1)
    centers = x[anchor_rows]
    near = torch.zeros(n, dtype=torch.bool)
    for start in range(0, n, chunk):
        dist = torch.cdist(x[start : start + chunk], centers, p=float("inf"))  # [chunk, A]
        near[start : start + chunk] = (dist <= radius).any(-1)
    near[anchor_rows] = True
    return anchor_rows, near.nonzero().squeeze(-1)


def drop(data: Any, rows: torch.Tensor) -> Any:
    """A copy of ``data`` without ``rows``."""
    keep = torch.ones(len(data), dtype=torch.bool)
    keep[rows] = False
    tensors = {
        f.name: getattr(data, f.name)[keep] for f in dataclasses.fields(data) if f.name != "info"
    }
    return dataclasses.replace(data, **tensors)


@torch.no_grad()
def max_aleatoric(dynamics: Any, obs: torch.Tensor, act: torch.Tensor) -> float:
    """Eq. 12 averaged over the rows: mean_rows max_{k in elites} ||std_k(s, a)||_2."""
    dynamics.eval()
    pred = dynamics.predict(obs, act)
    norms = pred.std[dynamics.elites].norm(dim=-1)  # [elites, rows]
    return float(norms.max(0).values.mean())


def run_one(
    args: argparse.Namespace,
    data: Any,
    anchor_rows: torch.Tensor,
    cand: torch.Tensor,
    ratio: float,
    seed: int,
    method: str,
) -> dict[str, Any]:
    """Train one model on the data minus ``ratio`` of the candidates; return U at the anchors."""
    overrides = [f"dataset.id={args.dataset}", f"seed={seed}", "track.backend=none"]
    if args.max_updates:
        overrides.append(f"model_learner.max_updates={args.max_updates}")
    if method == "mle":
        overrides.append("model_learner.aux_losses=[]")
    overrides += args.set
    recipe = load_recipe(args.recipe, overrides).recipe
    g = torch.Generator().manual_seed(seed * 1000 + int(round(ratio * 100)))
    dropped = cand[torch.randperm(len(cand), generator=g)[: int(round(ratio * len(cand)))]]
    train = drop(data, dropped)
    seed_everything(seed)
    parts = build_parts(recipe, train, torch.device("cpu"))
    t0 = time.perf_counter()
    metrics = parts.model_learner.pretrain(parts.dynamics, train, lambda m, step: None)
    out = {
        "method": method,
        "seed": seed,
        "ratio": ratio,
        "dropped": len(dropped),
        "train_rows": len(train),
        "uncertainty": max_aleatoric(
            parts.dynamics, data.obs[anchor_rows], data.actions[anchor_rows]
        ),
        "holdout_mse": metrics.get("holdout_mse"),
        "updates": metrics.get("updates"),
        "seconds": time.perf_counter() - t0,
    }
    print(json.dumps(out), flush=True)
    return out


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    """Mean +- std over seeds of U against the drop ratio, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for method, label in (("mle", "MLE (MOPO's model)"), ("vipo", "VIPO")):
        ratios = sorted({r["ratio"] for r in runs if r["method"] == method})
        if not ratios:
            continue
        vals = [
            [r["uncertainty"] for r in runs if r["method"] == method and r["ratio"] == x]
            for x in ratios
        ]
        mean = [statistics.mean(v) for v in vals]
        std = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in vals]
        ax.errorbar([100 * x for x in ratios], mean, yerr=std, marker="o", capsize=3, label=label)
    ax.set_xlabel("candidate data dropped (%)")
    ax.set_ylabel("max-aleatoric U at the anchors")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="recipes/vipo_mopo.yaml")
    parser.add_argument("--dataset", default="compose/walker2d/medium-replay-v0")
    parser.add_argument("--anchors", type=int, default=1000)
    parser.add_argument("--radius", type=float, default=0.8)
    parser.add_argument("--ratios", type=float, nargs="+", default=[i / 10 for i in range(11)])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--methods", nargs="+", default=["mle", "vipo"], choices=["mle", "vipo"])
    parser.add_argument("--max-updates", type=int, default=None)
    parser.add_argument("--set", action="append", default=[], help="extra recipe override")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="experiments/vipo/results/uncertainty")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = load_recipe(args.recipe, [f"dataset.id={args.dataset}"]).recipe
    data = recipe.dataset.load().to("cpu")
    anchor_rows, cand = candidates(data, args.anchors, args.radius)
    print(
        f"{len(data)} transitions, {len(anchor_rows)} anchors, {len(cand)} candidates", flush=True
    )
    runs = [
        run_one(args, data, anchor_rows, cand, ratio, seed, method)
        for seed in args.seeds
        for ratio in args.ratios
        for method in args.methods
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"args": vars(args), "transitions": len(data), "candidates": len(cand)}
    out.with_suffix(".json").write_text(json.dumps({**meta, "runs": runs}, indent=2))
    plot(runs, out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
