"""K seeds of one recipe in one process, their policy phases trained as one batch.

``compose run RECIPE --seeds K`` (or ``--seeds 0 3 7``). Each seed is a complete run of its
own (``RUN_DIR/seed_<s>/``: recipe.yaml with that seed, its own Aim run, checkpoint and
summary.json; any seed directory resumes alone with ``compose run --resume``). What is
shared is the policy phase's gradient step: all seeds' critics, policies, temperatures and
optimizers are stacked along a seed dimension and updated by one vmapped step
(:class:`compose.train.seeds.step.SeedBatchedStep`). Set-up, the model phase and policy
pretraining run seed after seed (the model cache makes repeats cheap); rollouts, evaluation,
logging and checkpoints run per seed on the seeds' own views of the stack, each seed drawing
from its own random stream. So seed k follows, to floating-point rounding, the run
``compose run RECIPE --set seed=k`` would have made (tests/train/test_seed_batch.py).

Why: at batch 256 one seed's matmuls leave a GPU mostly idle; K seeds in one step fill it.
On a 2-core CPU the gain is small (the arithmetic is the same), see the README.
A non-finite value in any seed stops the whole batch (the message names the seed); every
seed's last checkpoint was written before it.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from compose.train.buffers import SeedBuffers
from compose.train.loop import RunOptions, Trainer
from compose.train.run_dir import SEEDS, RunDir
from compose.train.schedule import run_policy_phase, score_text
from compose.train.seeds.rng import SeedStream, global_rng_as
from compose.train.seeds.step import SeedBatchedStep, unbatchable
from compose.train.watch import NonFiniteWatch

__all__ = ["SEEDS_FILE", "SeedBatchError", "SeedBatchTrainer", "seed_dir", "train_seeds"]

#: The batch's index file in its run directory (seeds, per-seed directories and scores).
SEEDS_FILE = SEEDS


class SeedBatchError(ValueError):
    """The recipe or the seeds cannot be trained as one batch (the message says why)."""


def seed_dir(run_dir: Path, seed: int) -> Path:
    """Where seed ``seed`` of a batch run lives."""
    return RunDir(Path(run_dir)).seed(seed).path


class SeedBatchTrainer:
    """Trains the runs ``loaded[k]`` (one recipe, seeds differing) as one batch.

    Each seed has its :class:`~compose.train.loop.Trainer` (set-up, phases, records); the
    policy phase runs the shared schedule with a :class:`SeedBatch` update.

    ``run_dir`` holds ``seed_<s>/`` per seed and :data:`SEEDS_FILE`.
    """

    def __init__(
        self,
        loaded: list[Any],
        run_dir: Path,
        track: bool = True,
        resume: bool = False,
        profile: list[str] | None = None,
        console: Console | None = None,
    ) -> None:
        seeds = [int(lo.recipe.seed) for lo in loaded]
        if len(set(seeds)) != len(seeds):
            raise SeedBatchError(f"--seeds: each seed once, got {seeds}")
        self.seeds = seeds
        self.run_dir = Path(run_dir)
        self.console = console or Console(stderr=True)
        self.trainers = [
            Trainer(
                lo,
                RunOptions(
                    run_dir=seed_dir(self.run_dir, s),
                    track=track,
                    resume=resume,
                    profile=list(profile or []),
                    console=self.console,
                ),
            )
            for lo, s in zip(loaded, seeds, strict=True)
        ]
        self.streams: list[SeedStream] = []
        #: The batch's metrics since the last log step (seed dimension first); each seed's
        #: slice goes to its trainer (and so into its checkpoint) at :meth:`at`.
        self.unlogged: dict[str, torch.Tensor] = {}

    # -- set-up ---------------------------------------------------------------------------
    def _prepare(self, stack: ExitStack) -> None:
        """Each seed: set-up, model phase, pretraining; then its stream and the stack."""
        for trainer in self.trainers:
            trainer.t_start = time.perf_counter()
            trainer.setup()
            stack.enter_context(trainer.recording())
            reasons = unbatchable(trainer.parts)
            if reasons:
                raise SeedBatchError(
                    f"recipe '{trainer.recipe.name}' cannot train seeds as one batch:\n  "
                    + "\n  ".join(reasons)
                    + "\nrun the seeds as separate processes instead: "
                    f"compose sweep run {trainer.recipe.name} --seeds {' '.join(map(str, self.seeds))}"
                )
            trainer.prepare()
            self.streams.append(SeedStream.capture(trainer.device))
        first = self.trainers[0]
        for k, trainer in enumerate(self.trainers):
            if trainer.fingerprint != first.fingerprint:
                raise SeedBatchError(f"seed {self.seeds[k]} loaded a different dataset")
            if trainer.step != first.step:
                raise SeedBatchError(
                    f"seed {self.seeds[k]} resumed at step {trainer.step}, seed "
                    f"{self.seeds[0]} at {first.step}: resume the seeds separately"
                )
            trainer.real = first.real  # one copy of the dataset for every seed
        self.generators = [s.generator for s in self.streams]
        r = first.recipe
        if r.runtime.compile:
            self.console.print("[yellow]runtime.compile is ignored when seeds are batched[/]")
        self.step_fn = SeedBatchedStep(
            [t.parts for t in self.trainers], self.generators, r.train.tau, r.train.actor_warmup
        )
        self.real = SeedBuffers([t.real for t in self.trainers])
        self.model = SeedBuffers([t.model_buffer for t in self.trainers])
        self.watch = NonFiniteWatch(first.device)

    # -- per-seed work on each seed's own stream ---------------------------------------------
    def each(self, work: Any) -> list[Any]:
        """``work(trainer)`` for every seed, each drawing from its own random stream."""
        out = []
        for trainer, stream in zip(self.trainers, self.streams, strict=True):
            with global_rng_as(stream):
                out.append(work(trainer))
        return out

    def at(self, step: int) -> None:
        """Tell every seed's trainer the batch's step and its slice of the unlogged metrics
        (read by its checkpoints and summary)."""
        for k, trainer in enumerate(self.trainers):
            trainer.step = step
            trainer.unlogged = {n: v[k] for n, v in self.unlogged.items()}

    def save(self) -> list[str]:
        """Every seed's checkpoint (after checking the batch's values were all finite)."""
        self.watch.check(self.trainers[0].last_checkpoint)
        self.step_fn.export_optimizer_states()
        return self.each(lambda t: t.save())

    # -- the policy phase -----------------------------------------------------------------
    def policy_phase(self) -> None:
        """Batched gradient steps; per-seed rollouts, logs, evaluations, checkpoints."""
        ts, first = self.trainers, self.trainers[0]
        # A resumed batch starts from what each seed's checkpoint had not yet logged.
        shared = set.intersection(*(set(t.unlogged) for t in ts))
        self.unlogged = {n: torch.stack([t.unlogged[n] for t in ts]) for n in sorted(shared)}
        # The batch's rate for every seed (not counting later seeds' set-up).
        t_policy = time.perf_counter()
        for t in ts:
            t.t_policy = t_policy
        update = SeedBatch(self, first.step)
        try:
            run_policy_phase(update, first.recipe, first.step, self.console)
        finally:
            self.at(update.step)

    # -- the whole batch ------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        """Train every seed; returns their summaries (also in :data:`SEEDS_FILE`)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        try:
            with ExitStack() as stack:
                self._prepare(stack)
                self.policy_phase()
                for trainer in self.trainers:
                    trainer.end_policy_phase()
                self.step_fn.export_optimizer_states()
                self.each(lambda t: t.finish())
        finally:
            self._write_index(time.perf_counter() - t0)
        self.console.print(seeds_table(self.seeds, [t.summary for t in self.trainers]))
        return [t.summary for t in self.trainers]

    def _write_index(self, wall: float) -> None:
        summaries = [t.summary for t in self.trainers]
        scores = [s.get("final_normalized_score") for s in summaries]
        finite = [float(x) for x in scores if x is not None and math.isfinite(x)]
        index = {
            "name": self.trainers[0].recipe.name,
            "seeds": self.seeds,
            "dirs": [str(seed_dir(self.run_dir, s)) for s in self.seeds],
            "batched": True,
            "wall_time_s": wall,
            "status": [s.get("status") for s in summaries],
            "final_normalized_scores": scores,
            "final_normalized_score_mean": statistics.fmean(finite) if finite else None,
            "final_normalized_score_std": statistics.pstdev(finite) if len(finite) > 1 else None,
            "steps_per_s": summaries[0].get("steps_per_s"),
        }
        RunDir(self.run_dir).write_index(index)


class SeedBatch:
    """The schedule's update for K seeds: one vmapped step, per-seed rollouts and records.

    The step reaches the seeds' trainers (with their slices of the unlogged metrics) when
    they save, and when the phase ends (:meth:`SeedBatchTrainer.at`), not on every step.
    """

    def __init__(self, batch: SeedBatchTrainer, step: int) -> None:
        self.b = batch
        self.step = step
        self.label = f"{batch.trainers[0].recipe.name} x{len(batch.trainers)} seeds"
        self.stop_note = "saving every seed's checkpoint after this step"

    def rollout(self, step: int) -> None:
        for t, m in zip(self.b.trainers, self.b.each(lambda t: t.rollout()), strict=True):
            t.rollout_metrics = m
            t.watch.observe(step, m)

    def update(self, step: int, n_real: int, n_model: int) -> None:
        b = self.b
        real = b.real.sample(n_real, b.generators)
        model = b.model.sample(n_model, b.generators) if n_model > 0 else None
        latest = b.step_fn(step, real, model)
        b.watch.observe(step, latest, b.seeds)
        b.unlogged.update(latest)

    def at(self, step: int) -> None:
        self.step = step

    def check(self) -> None:
        self.b.watch.check(self.b.trainers[0].last_checkpoint)
        for t in self.b.trainers:
            t.watch.check(t.last_checkpoint)

    def log(self, rate: float, step: int) -> None:
        b = self.b
        for k, t in enumerate(b.trainers):
            t.log_metrics({n: v[k] for n, v in b.unlogged.items()}, t.rollout_metrics, rate, step)
        b.unlogged = {}

    def evaluate(self, step: int, episodes: int, progress: Callable[[int, int], None]) -> str:
        evals = self.b.each(lambda t: t.evaluate(episodes, progress))
        for t, ev in zip(self.b.trainers, evals, strict=True):
            t.record_eval(step, ev)
        return _mean_score(evals)

    def save(self) -> str:
        self.b.at(self.step)
        self.b.save()
        return str(self.b.run_dir)


def _mean_score(evals: list[dict[str, float]]) -> str:
    key = "eval/normalized_score" if "eval/normalized_score" in evals[0] else "eval/return"
    mean = statistics.fmean(ev[key] for ev in evals)
    return score_text({key: mean, "eval/return": mean}) + " (mean)"


def seeds_table(seeds: list[int], summaries: list[dict[str, Any]]) -> Table:
    """One row per seed: status, steps, final score and return, steps/s."""
    table = Table(title="seeds")
    for col in ("seed", "status", "steps", "normalized score", "return", "steps/s"):
        table.add_column(col)
    for seed, s in zip(seeds, summaries, strict=True):
        score = s.get("final_normalized_score")
        ret = s.get("final_return")
        table.add_row(
            str(seed),
            str(s.get("status")),
            str(s.get("steps")),
            "-" if score is None else f"{score:.1f}",
            "-" if ret is None else f"{ret:.1f}",
            f"{s.get('steps_per_s', 0.0) or 0.0:.1f}",
        )
    return table


def train_seeds(loaded: list[Any], opts: RunOptions) -> list[dict[str, Any]]:
    """Train ``loaded`` (one LoadedRecipe per seed) as one batch in ``opts.run_dir``."""
    return SeedBatchTrainer(
        loaded,
        opts.run_dir,
        track=opts.track,
        resume=opts.resume,
        profile=opts.profile,
        console=opts.console,
    ).run()
