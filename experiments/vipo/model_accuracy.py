"""VIPO Table 3 in miniature: validation MSE of the MLE-only model vs the VIPO model.

vipo.txt Sec. 4.3: split the dataset 9:1 into training and validation (the same validation
set for every run), train the model with the original loss only (OL model, Eq. 7) and with
VIPO's augmented loss (Eq. 8/11), and compare the mean squared error of the predicted
(s', r) on the validation set. Both models come from the same recipe (dynamics and
model_learner of ``--recipe``); the OL model only drops ``model_learner.aux_losses``.

    python experiments/vipo/model_accuracy.py --dataset compose/hopper/medium-v0 \
        --seeds 0 1 2 --max-updates 5000 --out experiments/vipo/results/model_accuracy.json

Reported per run: raw MSE over (delta s, r) of each elite's mean, averaged over the elites
(``mse``), the same in normalized target units (``mse_normalized``), the learner's holdout
metrics, the final value inconsistency |Vbar_d - Vbar_m| when VIPO ran, and wall seconds.
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

VALIDATION_SEED = 12345  # one validation split for every run (vipo.txt Sec. 4.3)


def split(data: Any, fraction: float = 0.1) -> tuple[Any, Any]:
    """(train, validation) copies of an OfflineData, validation = ``fraction`` of the rows."""
    n = len(data)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(VALIDATION_SEED))
    n_val = int(round(fraction * n))
    parts = []
    for rows in (perm[n_val:], perm[:n_val]):
        tensors = {
            f.name: getattr(data, f.name)[rows.to(data.obs.device)]
            for f in dataclasses.fields(data)
            if f.name != "info"
        }
        parts.append(dataclasses.replace(data, **tensors))
    return parts[0], parts[1]


@torch.no_grad()
def validation_mse(dynamics: Any, val: Any, chunk: int = 8192) -> dict[str, float]:
    """Raw and normalized MSE of each elite's mean on (delta s, r), averaged over elites."""
    dynamics.eval()
    elites = dynamics.elites
    raw, norm = [], []
    for start in range(0, len(val), chunk):
        sl = slice(start, start + chunk)
        pred = dynamics.predict(val.obs[sl], val.actions[sl])
        target = torch.cat([val.next_obs[sl] - val.obs[sl], val.rewards[sl].unsqueeze(-1)], -1)
        err = (pred.mean[elites] - target).pow(2)  # [elites, B, do + 1]
        dims = pred.logvar.shape[-1]
        scale = (pred.std[elites, :, :dims] / torch.exp(0.5 * pred.logvar[elites])).pow(2)
        raw.append(err.mean(-1))
        norm.append((err[..., :dims] / scale).mean(-1))
    return {
        "mse": float(torch.cat(raw, 1).mean()),
        "mse_normalized": float(torch.cat(norm, 1).mean()),
    }


def run_one(
    recipe_path: str, dataset: str, seed: int, method: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Train one model (``method`` 'mle' or 'vipo') on the training split; evaluate it."""
    overrides = [f"dataset.id={dataset}", f"seed={seed}", "track.backend=none"]
    if args.max_updates:
        overrides.append(f"model_learner.max_updates={args.max_updates}")
    if method == "mle":
        overrides.append("model_learner.aux_losses=[]")
    elif args.weight is not None:
        overrides.append(f"model_learner.aux_losses.0.weight={args.weight}")
    overrides += args.set
    loaded = load_recipe(recipe_path, overrides)
    recipe = loaded.recipe
    data = recipe.dataset.load()
    train, val = split(data)
    seed_everything(seed)
    parts = build_parts(recipe, train, torch.device("cpu"))
    trace: list[dict[str, float]] = []
    t0 = time.perf_counter()
    metrics = parts.model_learner.pretrain(parts.dynamics, train, lambda m, step: trace.append(m))
    seconds = time.perf_counter() - t0
    out: dict[str, Any] = {
        "method": method,
        "seed": seed,
        "dataset": dataset,
        "seconds": seconds,
        "updates": metrics.get("updates"),
        "epochs": metrics.get("epochs"),
        "holdout_mse": metrics.get("holdout_mse"),
        **validation_mse(parts.dynamics, val),
    }
    for aux in parts.model_learner.aux_losses:
        if hasattr(aux, "coefficients"):
            batch = val.obs[:4096]
            v = aux._v(aux.target_values, batch)
            out["inconsistency"] = float((v[0] - v[1]).abs().mean())
            out["weight"] = aux.config.weight
    print(json.dumps(out), flush=True)
    return out


def summarize(runs: list[dict[str, Any]]) -> str:
    """A markdown table: mean +- std of the validation MSE per method."""
    lines = [
        "| method | runs | val MSE (raw) | val MSE (normalized) | minutes/run |",
        "|---|---|---|---|---|",
    ]
    for method in ("mle", "vipo"):
        rows = [r for r in runs if r["method"] == method]
        if not rows:
            continue

        def ms(key: str, rows: list[dict[str, Any]] = rows) -> str:
            vals = [r[key] for r in rows]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            return f"{statistics.mean(vals):.4g} +- {sd:.2g}"

        minutes = statistics.mean(r["seconds"] for r in rows) / 60
        lines.append(
            f"| {method} | {len(rows)} | {ms('mse')} | {ms('mse_normalized')} | {minutes:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="recipes/vipo_mobile.yaml")
    parser.add_argument("--dataset", default="compose/hopper/medium-v0")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=["mle", "vipo"], choices=["mle", "vipo"])
    parser.add_argument("--max-updates", type=int, default=None, help="cap on model updates")
    parser.add_argument("--weight", type=float, default=None, help="override VIPO's lambda")
    parser.add_argument("--set", action="append", default=[], help="extra recipe override")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="experiments/vipo/results/model_accuracy.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = [
        run_one(args.recipe, args.dataset, seed, method, args)
        for seed in args.seeds
        for method in args.methods
    ]
    table = summarize(runs)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "runs": runs, "table": table}, indent=2))


if __name__ == "__main__":
    main()
