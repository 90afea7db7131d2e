"""Variance of VIPO's Eq. 11 gradient estimator with and without ``baseline: model_value``.

vipo.txt Eq. 11 weighs grad log P_theta(s', r | s, a) by (Vbar_d(s) - Vbar_m(s)) (r + gamma
Vbar_m(s')). ``baseline: model_value`` subtracts Vbar_m(s) from the second factor; since
E_{(s', r) ~ P_theta}[grad log P_theta] = 0 and Vbar_m(s) does not depend on the draw, the
expected gradient is the same and only the variance can change. This script measures both on
one model: it fits a VIPO model for a few hundred updates (the recipe's model learner, value
nets included), trains V_d and V_m further with the model fixed (``--value-steps``), then, on
one fixed batch of dataset rows, redraws the model's (s', r) ``--resamples`` times and takes
the gradient of the aux loss's surrogate w.r.t. every model parameter under each baseline,
with the same draws for both (common random numbers: their difference is the baseline term).

    python experiments/vipo/baseline_variance.py --dataset compose/hopper/medium-v0 \
        --max-updates 300 --value-steps 0 1000 4000 --value-lr 1e-3 --resamples 400 \
        --out experiments/vipo/results/baseline_variance.json

Reported per baseline: ||mean gradient|| (raw, and debiased by tr Cov / R), total variance
(trace of the covariance of one estimate, over all parameters) and the relative noise
sqrt(total variance) / ||mean|| of one estimate;
for the pair: the mean of the difference against its standard error (chi2 / dof over all
parameters: about 1 when the means agree), a t-test of the difference along the mean
gradient's direction (estimated from ``--pilot`` other draws), the cosine of the two mean
gradients, and the variance ratio. Also
the time of a model step with and without the ``grad_ratio`` logging (``--time-steps``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from compose.kinds import Batch, UpdateInputs
from compose.nn import make_adam
from compose.recipe import load_recipe
from compose.train.build import build_parts
from compose.train.runtime import seed_everything


class Moments:
    """Running mean and variance (Welford) of flat vectors, in float64."""

    def __init__(self, size: int) -> None:
        self.n = 0
        self.mean = torch.zeros(size, dtype=torch.float64)
        self.m2 = torch.zeros(size, dtype=torch.float64)

    def add(self, x: torch.Tensor) -> None:
        x = x.double()
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    @property
    def var(self) -> torch.Tensor:
        return self.m2 / max(self.n - 1, 1)


def batch_rows(data: Any, rows: torch.Tensor) -> Batch:
    return Batch(
        obs=data.obs[rows],
        actions=data.actions[rows],
        rewards=data.rewards[rows],
        next_obs=data.next_obs[rows],
        terminals=data.terminals[rows],
    )


def train_values(
    aux: Any, dynamics: Any, data: Any, steps: int, batch: int, g: torch.Generator
) -> None:
    """``steps`` more V_d/V_m updates (Eq. 9-10) on random dataset rows, the model fixed."""
    dynamics.requires_grad_(False)  # value-net training only: no model graph
    for step in range(steps):
        rows = torch.randint(len(data.obs), (batch,), generator=g)
        aux.update(UpdateInputs(step=step, real=batch_rows(data, rows), dynamics=dynamics))
    dynamics.requires_grad_(True)


def fit(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(parts, aux, data): the recipe's VIPO model after ``--max-updates`` model updates."""
    overrides = [
        f"dataset.id={args.dataset}",
        f"seed={args.seed}",
        "track.backend=none",
        f"model_learner.max_updates={args.max_updates}",
        *args.set,
    ]
    recipe = load_recipe(args.recipe, overrides).recipe
    data = recipe.dataset.load()
    seed_everything(args.seed)
    parts = build_parts(recipe, data, torch.device("cpu"))
    t0 = time.perf_counter()
    trace: list[dict[str, float]] = []
    parts.model_learner.pretrain(parts.dynamics, data, lambda m, step: trace.append(m))
    print(f"model fit: {time.perf_counter() - t0:.0f} s; last epoch: {trace[-1]}", flush=True)
    args.fit_metrics = trace[-1]
    (aux,) = parts.model_learner.aux_losses
    if args.value_lr is not None:
        for group in aux.optimizer.param_groups:
            group["lr"] = args.value_lr
    return parts, aux, data


def surrogate_gradient(
    aux: Any, config: Any, seed: int, inputs: UpdateInputs, params: list[torch.Tensor]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(flat gradient of the aux loss's surrogate under ``config``, its terms) for draw ``seed``."""
    aux.config = config
    aux.generator.manual_seed(seed)
    terms = aux.loss(inputs)
    grads = torch.autograd.grad(terms["loss_value_inconsistency"], params, allow_unused=True)
    flat = torch.cat(
        [
            (torch.zeros_like(p) if g is None else g).reshape(-1)
            for p, g in zip(params, grads, strict=True)
        ]
    )
    return flat, terms


def mean_and_stderr(values: list[float]) -> dict[str, float]:
    t = torch.tensor(values, dtype=torch.float64)
    return {"mean": float(t.mean()), "stderr": float(t.std() / len(values) ** 0.5)}


def measure(aux: Any, dynamics: Any, batch: Batch, resamples: int, pilot: int) -> dict[str, Any]:
    """Moments of the surrogate's gradient over ``resamples`` redraws, per baseline.

    Also the projections on u, the direction of the mean gradient estimated from ``pilot``
    other draws (independent of the measured ones): a scalar t-test of the two means.
    """
    params = [p for p in dynamics.parameters() if p.requires_grad]
    size = sum(p.numel() for p in params)
    configs = {b: aux.config.model_copy(update={"baseline": b}) for b in ("none", "model_value")}
    inputs = UpdateInputs(step=0, real=batch, dynamics=dynamics)
    direction = Moments(size)
    for r in range(pilot):
        direction.add(
            surrogate_gradient(aux, configs["model_value"], 20_000 + r, inputs, params)[0]
        )
    u = direction.mean / direction.mean.norm()
    moments = {b: Moments(size) for b in (*configs, "difference")}
    along: dict[str, list[float]] = {b: [] for b in moments}
    diagnostics: dict[str, float] = {}
    for r in range(resamples):
        flat = {}
        for name, config in configs.items():  # the same draws under both baselines
            flat[name], terms = surrogate_gradient(aux, config, 10_000 + r, inputs, params)
            if r == 0:
                diagnostics = {k: float(v) for k, v in terms.items() if not k.startswith("loss_")}
        flat["difference"] = flat["none"] - flat["model_value"]
        for name, g in flat.items():
            moments[name].add(g)
            along[name].append(float(g.double() @ u))
    aux.config = configs["none"]
    out: dict[str, Any] = {
        "value_diagnostics": diagnostics,
        "parameters": size,
        "resamples": resamples,
    }
    for name in configs:
        m = moments[name]
        total = float(m.var.sum())
        # ||mean of R draws||^2 overestimates ||E g||^2 by tr Cov / R: debiased.
        norm2 = float(m.mean.pow(2).sum()) - total / resamples
        norm = max(norm2, 0.0) ** 0.5
        out[name] = {
            "mean_norm": float(m.mean.norm()),
            "mean_norm_debiased": norm,
            "total_variance": total,
            "relative_noise": total**0.5 / norm
            if norm > 0
            else float("inf"),  # sqrt(tr Cov) / ||E g||
        }
    d = moments["difference"]
    stderr2 = d.var / resamples
    keep = stderr2 > 0
    for name in along:
        out.setdefault(name, {})["along_mean_direction"] = mean_and_stderr(along[name])
    diff = out["difference"]["along_mean_direction"]
    out["comparison"] = {
        "difference_along_mean_direction_t": diff["mean"] / diff["stderr"],
        "variance_ratio_model_value_over_none": out["model_value"]["total_variance"]
        / out["none"]["total_variance"],
        "mean_difference_norm_over_mean_norm": float(d.mean.norm())
        / out["model_value"]["mean_norm_debiased"],
        "mean_difference_chi2_per_dof": float((d.mean[keep].pow(2) / stderr2[keep]).mean()),
        "cosine_of_means": float(
            torch.nn.functional.cosine_similarity(
                moments["none"].mean, moments["model_value"].mean, dim=0
            )
        ),
    }
    return out


def time_steps(parts: Any, data: Any, steps: int) -> dict[str, float]:
    """ms per model step of the learner's MLEStep with grad_ratio on every step vs never."""
    from components.model_learners._mle import MLEStep

    dynamics, learner = parts.dynamics, parts.model_learner
    columns = (
        data.obs.float(),
        data.actions.float(),
        data.next_obs.float(),
        data.rewards.reshape(-1).float(),
        data.terminals.reshape(-1).float(),
    )
    step = MLEStep(learner, dynamics, columns, make_adam(list(dynamics.parameters()), 1e-4))
    g = torch.Generator().manual_seed(0)
    out = {}
    for every in (0, 1, 0, 1):  # interleaved, second round kept (warm)
        step.grad_ratio_every = every
        t0 = time.perf_counter()
        for _ in range(steps):
            step.step(torch.randint(len(data.obs), (dynamics.members, 256), generator=g))
        out[f"ms_per_step_grad_ratio_every_{every}"] = 1000 * (time.perf_counter() - t0) / steps
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="recipes/vipo_mobile.yaml")
    parser.add_argument("--dataset", default="compose/hopper/medium-v0")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-updates", type=int, default=300, help="model updates of the fit")
    parser.add_argument(
        "--value-steps",
        type=int,
        nargs="+",
        default=[0, 1000, 4000],
        help="measure after these totals of extra V_d/V_m steps (model fixed)",
    )
    parser.add_argument("--value-lr", type=float, default=None, help="lr of the extra value steps")
    parser.add_argument("--batch", type=int, default=256, help="dataset rows of the measured batch")
    parser.add_argument("--resamples", type=int, default=400)
    parser.add_argument(
        "--pilot", type=int, default=50, help="draws that estimate the mean direction"
    )
    parser.add_argument(
        "--time-steps", type=int, default=20, help="steps per timing round (0: skip)"
    )
    parser.add_argument("--set", action="append", default=[], help="extra recipe override")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="experiments/vipo/results/baseline_variance.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    parts, aux, data = fit(args)
    rows = torch.randint(
        len(data.obs), (args.batch,), generator=torch.Generator().manual_seed(args.seed + 1)
    )
    g = torch.Generator().manual_seed(args.seed)
    result: dict[str, Any] = {"checkpoints": []}
    done = 0
    for total in sorted(args.value_steps):
        t0 = time.perf_counter()
        train_values(aux, parts.dynamics, data, total - done, args.batch, g)
        done = total
        print(f"value nets at {total} extra steps ({time.perf_counter() - t0:.0f} s)", flush=True)
        t0 = time.perf_counter()
        batch = batch_rows(data, rows)
        point = {
            "extra_value_steps": total,
            **measure(aux, parts.dynamics, batch, args.resamples, args.pilot),
        }
        point["measure_seconds"] = time.perf_counter() - t0
        print(json.dumps(point), flush=True)
        result["checkpoints"].append(point)
    if args.time_steps:
        result["timing"] = time_steps(parts, data, args.time_steps)
    result["args"] = vars(args)
    print(json.dumps(result, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
