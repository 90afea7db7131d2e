"""The measurements (a)-(d) of issue 5, each returning samples in the rows' units.

(a) dynamics training, (b) MOPO policy update (batch 256 and 8), (c) MOPO rollout,
(d) MOBILE policy update (batch 256 and 8) and its penalty alone. FLOPs (f) are counted on
one extra step per case with :func:`compose.bench.timing.count_flops` (once per case).
Each case builds its own parts from the recipe and seeds torch first, so cases are
independent of the order they run in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from compose.bench.harness import (
    PolicyHarness,
    Shapes,
    dynamics_step,
    load_bench_recipe,
    make_parts,
    rollout_fn,
)
from compose.bench.reference import STEPS_PER_EPOCH
from compose.bench.timing import Sample, count_flops, sync, time_repeats
from compose.train.buffers import TransitionBuffer

__all__ = ["CaseResult", "Settings", "case_dynamics", "case_mobile", "case_mopo", "case_rollout"]


@dataclass(frozen=True)
class Settings:
    """How long to measure: steps per repeat (extrapolated to 1000), repeats, warm-up."""

    steps: int
    repeats: int
    warmup: int
    flops: bool
    device: torch.device
    shapes: Shapes
    dataset_id: str
    overrides: tuple[str, ...] = ()


@dataclass
class CaseResult:
    """Samples by row key, FLOPs per unit by row key, free-form notes."""

    samples: dict[str, Sample] = field(default_factory=dict)
    flops: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def _rate(flops: int, seconds: Sample) -> Sample:
    """GFLOP/s per repeat from FLOPs per call and seconds per call."""
    return Sample([flops / max(t, 1e-12) / 1e9 for t in seconds.values])  # wall time only


def _timed(step: Any, s: Settings, steps: int | None = None) -> Sample:
    n = steps or s.steps
    return time_repeats(step, steps=n, repeats=s.repeats, warmup=s.warmup, device=s.device)


def case_dynamics(data: Any, s: Settings) -> CaseResult:
    """(a) s per 1000 dynamics gradient steps; s per epoch = 778 steps + one reshuffle.

    The main rows use recipes/mbpo.yaml's dynamics (the reference's model: 7 x 4x200, no
    spectral norm); ``dynamics_sn_1000`` times recipes/mopo.yaml's, with spectral norm on
    the mean path (an error there is recorded, not raised).
    """
    torch.manual_seed(0)
    recipe = load_bench_recipe("mbpo", s.dataset_id, s.shapes, s.overrides)
    parts = make_parts(recipe, data, s.device)
    step, reshuffle, per_epoch = dynamics_step(parts, recipe.model_learner.batch_size)
    res = CaseResult()
    per_step = _timed(step, s)
    shuffle = time_repeats(
        lambda _i: reshuffle(), steps=1, repeats=s.repeats, warmup=1, device=s.device
    )
    res.samples["dynamics_1000"] = per_step.scaled(1000.0)
    # Reference epoch = 778 steps (199k rows / 256); toy shapes use their own epoch length.
    epoch_steps = STEPS_PER_EPOCH if s.shapes.name == "reference" else per_epoch
    res.samples["dynamics_epoch"] = per_step.scaled(float(epoch_steps)).plus(shuffle)
    res.info.update(
        steps_per_epoch=epoch_steps,
        reshuffle_s=shuffle.median,
        members=parts.dynamics.members,
        recipe="mbpo (no spectral norm)",
    )
    if s.flops:
        res.flops["gflops_dynamics"] = count_flops(lambda: step(10**6))
        res.samples["gflops_dynamics"] = _rate(res.flops["gflops_dynamics"], per_step)
    torch.manual_seed(0)
    try:
        recipe = load_bench_recipe("mopo", s.dataset_id, s.shapes, s.overrides)
        parts = make_parts(recipe, data, s.device)
        sn_step, _, _ = dynamics_step(parts, recipe.model_learner.batch_size)
        res.samples["dynamics_sn_1000"] = _timed(sn_step, s).scaled(1000.0)
    except Exception as exc:  # a failing variant must not sink the other figures
        res.info["spectral_norm_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    return res


def _policy_case(
    name: str, prefix: str, data: Any, s: Settings, penalty_key: str | None
) -> CaseResult:
    res = CaseResult()
    for batch, key in (
        (s.shapes.batch, f"{prefix}_update_1000"),
        (s.shapes.small_batch, f"{prefix}_update_b8_1000"),
    ):
        torch.manual_seed(0)
        recipe = load_bench_recipe(name, s.dataset_id, s.shapes, s.overrides)
        parts = make_parts(recipe, data, s.device)
        harness = PolicyHarness(parts, recipe, batch, s.shapes.fill_starts)
        per_step = _timed(harness.step, s)
        res.samples[key] = per_step.scaled(1000.0)
        if batch != s.shapes.batch:
            continue
        res.info.update(
            n_real=harness.n_real, n_model=harness.n_model, critics=parts.critic.num_critics
        )
        if s.flops:
            res.flops[f"gflops_{prefix}"] = count_flops(lambda h=harness: h.step(10**6))
            res.samples[f"gflops_{prefix}"] = _rate(res.flops[f"gflops_{prefix}"], per_step)
        if penalty_key is not None:
            batches = [harness.inputs(i) for i in range(8)]
            target = parts.critic_target

            def penalty(i: int, batches: list = batches, target: Any = target) -> None:
                target.penalty(batches[i % len(batches)])

            pen = _timed(penalty, s)
            res.samples[penalty_key] = pen.scaled(1000.0)
            if s.flops:
                res.flops[penalty_key] = count_flops(lambda: penalty(0))
            res.info["samples"] = int(getattr(recipe.critic_target.uncertainty, "samples", 0))
    return res


def case_mopo(data: Any, s: Settings) -> CaseResult:
    """(b) MOPO policy update at batch 256 and at batch 8 (per-step overhead)."""
    return _policy_case("mopo", "mopo", data, s, None)


def case_mobile(data: Any, s: Settings) -> CaseResult:
    """(d) MOBILE update (penalized SAC target) at batch 256 and 8, and the penalty alone."""
    return _policy_case("mobile", "mobile", data, s, "mobile_penalty_1000")


def case_rollout(data: Any, s: Settings) -> CaseResult:
    """(c) one MOPO rollout round of ``rollout_starts`` x ``rollout_length``, s per round.

    Every row continues for all steps: the dynamics' termination rule is switched off so
    the work is the reference's 50k x 5 whatever an (untrained) model predicts; the number
    of transitions written is recorded.
    """
    torch.manual_seed(0)
    recipe = load_bench_recipe("mopo", s.dataset_id, s.shapes, s.overrides)
    parts = make_parts(recipe, data, s.device)
    parts.dynamics.eval()
    if hasattr(parts.dynamics, "termination"):
        parts.dynamics.termination = None
    d, ro = data, recipe.rollout
    real = TransitionBuffer.from_tensors(
        d.obs, d.actions, d.rewards, d.next_obs, d.terminals.bool(), s.device
    )
    buffer = TransitionBuffer(
        ro.batch_size * ro.length * ro.retain, parts.ctx.obs_dim, parts.ctx.act_dim, s.device
    )
    run = rollout_fn(parts, recipe, buffer, real, s.shapes.rollout_starts, s.shapes.rollout_length)
    res = CaseResult()
    if s.flops:  # the warm-up round, counted
        res.flops["gflops_rollout"] = count_flops(run)
    stats = run()
    sync(s.device)
    res.samples["mopo_rollout"] = time_repeats(
        lambda _i: run(), steps=1, repeats=s.repeats, warmup=0, device=s.device
    )
    res.info.update(
        transitions=int(stats.transitions),
        starts=s.shapes.rollout_starts,
        length=s.shapes.rollout_length,
        chunk_size=int(ro.chunk_size),
        members=parts.dynamics.members,
    )
    if s.flops:
        res.samples["gflops_rollout"] = _rate(
            res.flops["gflops_rollout"], res.samples["mopo_rollout"]
        )
    return res
