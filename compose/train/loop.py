"""The trainer: build, model phase, policy phase, evaluation, checkpoints, summary.

Reference: design.md Sec. 5; MBPO (Janner et al. 2019) Algorithm 2 and MOPO (Yu et al.
2020) Algorithm 2 for the policy phase. Nothing here names an algorithm: every difference
between MBPO, MOPO, MOBILE, ... lives in the components of the recipe.
The checkpoint's layout and the run's metadata live in :mod:`compose.train.run_state`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from compose.kinds import Buffers, UpdateInputs
from compose.train.buffers import TransitionBuffer
from compose.train.build import Parts, build_parts, dataset_fingerprint
from compose.train.model_phase import run_model_phase
from compose.train.progress import RunProgress, summary_table
from compose.train.rollout import SHAPING_CHECK_ROUND, branched_rollout, dominant_shaping
from compose.train.run_dir import RunDir
from compose.train.run_state import (
    Progress,
    best_of,
    outcome_params,
    resume,
    run_meta,
    run_params,
    run_state,
)
from compose.train.runtime import apply_runtime, seed_everything
from compose.train.schedule import Interrupted, run_policy_phase, score_text
from compose.train.step import UpdateStep, update_inputs
from compose.train.watch import NonFiniteError, NonFiniteWatch

__all__ = ["Interrupted", "OneSeed", "RunOptions", "Trainer", "train"]


@dataclass
class RunOptions:
    """How to run a loaded recipe (not part of the recipe's mathematics)."""

    run_dir: Path
    track: bool = True
    resume: bool = False
    profile: list[str] = field(default_factory=list)
    console: Console | None = None


class Trainer:
    """Holds the run's state; :meth:`run` executes it end to end."""

    def __init__(self, loaded: Any, opts: RunOptions) -> None:
        self.loaded, self.recipe, self.opts = loaded, loaded.recipe, opts
        self.console = opts.console or Console(stderr=True)
        self.run_dir = Path(opts.run_dir)
        self.dir = RunDir(self.run_dir)
        self.ckpt_path = self.dir.checkpoint
        self.profile = list(opts.profile)
        self.last_checkpoint: str | None = None
        self.summary: dict[str, Any] = {
            "name": self.recipe.name,
            "run_dir": str(self.run_dir),
            "warnings": [],
        }
        self.rollout_rounds = 0
        # Metrics since the last log line. Components on their own schedule (a model learner
        # firing every 1000 steps, AMPL's retrains) return metrics only on the steps they run;
        # keeping them until the next log step gets them logged, not overwritten. With the last
        # rollout round's metrics (logged at every log step until the next round) they are
        # saved in the checkpoint: a resumed run logs the same points as an uninterrupted one.
        self.unlogged: dict[str, torch.Tensor] = {}
        self.rollout_metrics: dict[str, torch.Tensor] = {}

    # -- set-up ---------------------------------------------------------------------------
    def setup(self) -> None:
        """Runtime, data, components, tracker, buffers, and (on resume) the checkpoint."""
        r = self.recipe
        self.device = apply_runtime(r.runtime, r.seed)
        self.console.print(f"[bold]{r.name}[/]: device {self.device}, seed {r.seed}")
        data = r.dataset.load().to(self.device)
        self.info = data.info
        self.fingerprint = dataset_fingerprint(data)
        self.console.print(
            f"dataset {self.info.dataset_id}: {len(data)} transitions, env {self.info.env_id}"
        )
        self.parts: Parts = build_parts(r, data, self.device)
        self.meta = run_meta(
            self.loaded.resolved, self.loaded.hash, self.info.dataset_id, self.fingerprint
        )
        d = data
        self.real = TransitionBuffer.from_tensors(
            d.obs, d.actions, d.rewards, d.next_obs, d.terminals.bool(), self.device
        )
        ro = r.rollout
        self.model_buffer = TransitionBuffer(
            ro.batch_size * ro.length * ro.retain, self.info.obs_dim, self.info.act_dim, self.device
        )
        self.buffers = Buffers(real=self.real, model=self.model_buffer)
        self.step = 0
        self.wall_before = 0.0
        self.eval_history: list[dict[str, float]] = []
        self.model_metrics: dict[str, Any] = {}
        self.pretrain_metrics: dict[str, float] = {}
        run_hash = None
        if self.opts.resume:
            saved, run_hash, path = resume(
                self.dir,
                self.device,
                self.meta,
                self.parts,
                self.model_buffer,
                say=self.console.print,
            )
            self.step, self.wall_before = saved.step, saved.wall_time_s
            self.eval_history, self.model_metrics = saved.eval_history, saved.model_metrics
            self.pretrain_metrics = saved.pretrain_metrics
            self.unlogged, self.rollout_metrics = saved.unlogged, saved.rollout_metrics
            self.rollout_rounds = saved.rollout_rounds
            self.profile = self.profile or saved.profile
            self.console.print(f"resumed from {path} at step {self.step}")
        from compose.track import make_tracker

        self.tracker = make_tracker(
            r.track,
            r.name,
            enabled=self.opts.track,
            run_hash=run_hash,
            tags=[r.name, self.info.dataset_id],
        )
        self.meta["aim_run_hash"] = self.tracker.run_hash
        if not self.opts.resume:
            self.tracker.params(
                run_params(
                    self.loaded, self.fingerprint, self.opts.profile, self.run_dir, self.info
                )
            )
        self.labels = component_labels(self.loaded.resolved, self.parts.components())
        self.watch = NonFiniteWatch(self.device, labels=self.labels)
        self.update = UpdateStep(self.parts, r.train.tau, r.train.actor_warmup)
        self.step_fn = _compiled(self.update, self.console) if r.runtime.compile else self.update

    # -- checkpoints ----------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        progress = Progress(
            step=self.step,
            wall_time_s=self.wall_before + (time.perf_counter() - self.t_start),
            eval_history=self.eval_history,
            model_metrics=self.model_metrics,
            pretrain_metrics=self.pretrain_metrics,
            profile=self.profile,
            unlogged=self.unlogged,
            rollout_metrics=self.rollout_metrics,
            rollout_rounds=self.rollout_rounds,
        )
        keep = self.recipe.checkpoint.keep_buffer
        return run_state(self.parts, self.meta, progress, self.model_buffer if keep else None)

    def save(self) -> str:
        """Write the checkpoint atomically (only after checking every value was finite).

        The one it replaces is kept as the previous checkpoint (:class:`RunDir`).
        """
        self.watch.check(self.last_checkpoint)
        self.dir.save_checkpoint(self._state())
        self.last_checkpoint = str(self.ckpt_path)
        return self.last_checkpoint

    # -- phases ---------------------------------------------------------------------------
    def model_phase(self) -> None:
        """Fit or load the dynamics, log holdout metrics, reseed for the policy phase."""
        total = model_epoch_cap(self.recipe.model_learner, len(self.real))
        with RunProgress(self.console, total, 0, "model phase", unit="epochs") as bar:
            calls = [0]

            def log(metrics: dict[str, float], step: int) -> None:
                self.tracker.metrics({f"model_learner/{k}": v for k, v in metrics.items()}, step)
                calls[0] += 1
                shown = next(
                    (f"{k} {v:.4g}" for k, v in metrics.items() if "holdout" in k or "nll" in k),
                    None,
                )
                bar.update(calls[0], score=shown)

            self.model_metrics = run_model_phase(
                self.recipe, self.parts, self.fingerprint, log, self.console.print
            )
        shown = {k: v for k, v in self.model_metrics.items() if isinstance(v, float)}
        self.tracker.metrics({f"model_learner/final_{k}": v for k, v in shown.items()}, 0)
        self.console.print("model phase: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()))
        # The policy phase draws the same random numbers whether the model came from the cache.
        seed_everything(self.recipe.seed + 1)

    def policy_pretrain(self) -> None:
        """Behavior cloning of the policy on the dataset (``policy_pretrain``; 0 steps: off).

        Runs once, after the model phase and before the first checkpoint; a resumed run
        starts from the checkpoint's (pretrained) policy and does not repeat it.
        """
        cfg = self.recipe.policy_pretrain
        if cfg.steps == 0:
            return
        from compose.train.policy_pretrain import pretrain_policy, resolved_loss

        kind = resolved_loss(self.parts.policy, cfg.loss)
        self.console.print(f"policy pretraining: {cfg.steps} behavior-cloning steps ({kind})")

        def log(metrics: dict[str, torch.Tensor], step: int) -> None:
            values = torch.stack([v.float().reshape(()) for v in metrics.values()]).tolist()
            flat = {f"policy_pretrain/{k}": v for k, v in zip(metrics, values, strict=True)}
            self.tracker.metrics(flat, step)

        with RunProgress(self.console, cfg.steps, 0, "policy pretrain") as bar:
            final = pretrain_policy(
                self.parts.policy,
                self.real.obs,
                self.real.actions,
                cfg,
                log=log,
                progress=bar.update,
                log_every=self.recipe.train.log_every,
            )
        bad = {f"policy_pretrain/{k}": v for k, v in final.items() if not math.isfinite(v)}
        if bad:
            raise NonFiniteError(0, bad, None)
        if self.parts.target_policy is not None:  # pi_phi' starts at the cloned policy
            from compose.nn import hard_update_

            hard_update_(self.parts.target_policy, self.parts.policy)
        self.pretrain_metrics = final
        self.console.print(
            f"policy pretraining: loss_bc {final['initial_loss_bc']:.4g} -> "
            f"{final['loss_bc']:.4g} in {final['seconds']:.1f} s"
        )
        ev = self.evaluate(self.recipe.eval.episodes)  # the starting point the run improves on
        self.record_eval(0, ev)
        self.console.print(f"policy pretraining: the behavior-cloned policy's {score_text(ev)}")

    def rollout(self) -> dict[str, torch.Tensor]:
        """One round of branched rollouts from dataset states."""
        r, p = self.recipe.rollout, self.parts
        idx = torch.randint(0, len(self.real), (r.batch_size,), device=self.device)
        stats = branched_rollout(
            self.real.obs[idx],
            length=r.length,
            chunk_size=r.chunk_size,
            dynamics=p.dynamics,
            reward_shaper=p.reward_shaper,
            buffer=self.model_buffer,
            policy=p.policy,
            agent=p.agent,
            action_low=p.ctx.action_low,
            action_high=p.ctx.action_high,
            actions=r.actions,
        )
        metrics = stats.metrics()
        metrics["rollout/buffer_size"] = torch.tensor(float(len(self.model_buffer)))
        self.rollout_rounds += 1
        if self.rollout_rounds == SHAPING_CHECK_ROUND:
            note = dominant_shaping(metrics)
            if note:
                note = f"rollout round {self.rollout_rounds}: {note}"
                self.summary["warnings"].append(note)
                self.console.print(f"[yellow]{note}[/]")
        return metrics

    def evaluate(
        self, episodes: int, progress: Callable[[int, int], None] | None = None
    ) -> dict[str, float]:
        """Deterministic policy in the real env: raw return and normalized score.

        ``progress(step, max_steps)`` is called after every env step (None: a bar of its own).
        """
        from compose.envs import evaluate

        policy, device = self.parts.policy, self.device
        with ExitStack() as stack:
            if progress is None:
                bar = stack.enter_context(
                    RunProgress(self.console, None, 0, "evaluation", unit="env steps")
                )

                def progress(step: int, total: int) -> None:
                    bar.total = total
                    bar.progress.update(bar.task, total=total)
                    bar.update(step)

            result = evaluate(
                lambda obs: policy.act(obs.to(device)).cpu(),
                self.info.env_id,
                episodes=episodes,
                seed=self.recipe.seed + 10_000,
                ref_min_score=self.info.ref_min_score,
                ref_max_score=self.info.ref_max_score,
                progress=progress,
            )
        out = {"eval/return": result.mean_return, "eval/return_std": result.std_return}
        if result.normalized_mean is not None:
            out["eval/normalized_score"] = result.normalized_mean
            out["eval/normalized_score_std"] = float(result.normalized_std or 0.0)
        return out

    def policy_phase(self) -> None:
        """The gradient steps, with rollouts, logging, evaluation and checkpoints on schedule."""
        run_policy_phase(OneSeed(self), self.recipe, self.step, self.console)

    def log_metrics(
        self,
        latest: dict[str, torch.Tensor],
        rollout_metrics: dict[str, torch.Tensor],
        rate: float,
        step: int,
    ) -> None:
        """One log line: ``latest`` (the update's) and ``rollout_metrics``, and the rate."""
        merged = {**latest, **rollout_metrics}
        if not merged:
            return
        values = torch.stack(
            [v.to(self.device, torch.float32).reshape(()) for v in merged.values()]
        )
        flat = dict(zip(merged, values.tolist(), strict=True))
        flat["perf/steps_per_s"] = rate
        self.tracker.metrics(flat, step)

    def record_eval(self, step: int, ev: dict[str, float]) -> None:
        """Log an evaluation and keep it in the run's history (summary, checkpoint)."""
        self.tracker.metrics(ev, step)
        self.eval_history.append({"step": float(step), **ev})

    # -- the whole run --------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Execute the run; returns the summary (also written to ``summary.json``)."""
        self.t_start = time.perf_counter()
        self.setup()
        with self.recording():
            self.prepare()
            self.policy_phase()
            self.end_policy_phase()
            self.finish()
        self.console.print(summary_table(self.summary))
        return self.summary

    def prepare(self) -> None:
        """After :meth:`setup`: (unless resuming) the model phase and policy pretraining."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.opts.resume:
            self.model_phase()
            self.policy_pretrain()
        self.t_policy, self.s_policy = time.perf_counter(), self.step

    def end_policy_phase(self) -> None:
        """Record the policy phase's rate (before the final evaluation)."""
        policy_s = time.perf_counter() - self.t_policy
        self.summary["steps_per_s"] = (self.step - self.s_policy) / max(policy_s, 1e-9)

    def finish(self) -> None:
        """The final evaluation and checkpoint, after the policy phase."""
        episodes = self.recipe.eval.final_episodes or self.recipe.eval.episodes
        ev = self.evaluate(episodes)
        self.record_eval(self.step, ev)
        self.save()
        self.summary["final_return"] = ev["eval/return"]
        self.summary["final_normalized_score"] = ev.get("eval/normalized_score")

    @contextmanager
    def recording(self) -> Iterator[None]:
        """On any exit (after :meth:`setup`) record the status, write ``summary.json``, close Aim."""
        status = "finished"
        steps: int | None = None
        try:
            yield
        except Interrupted:
            status = "interrupted"
            raise
        except NonFiniteError as exc:
            status = "failed: non-finite values"
            steps = exc.step  # the step the message names (checked at log time, later)
            self.summary["error"] = str(exc)
            raise
        except KeyboardInterrupt:
            status = "aborted"
            raise
        except BaseException as exc:
            status = f"failed: {type(exc).__name__}"
            raise
        finally:
            self.summary.update(
                status=status,
                steps=self.step if steps is None else steps,
                wall_time_s=self.wall_before + (time.perf_counter() - self.t_start),
                model_phase_s=self.model_metrics.get("seconds"),
                model_metrics=self.model_metrics,
                policy_pretrain=self.pretrain_metrics,
                aim_run_hash=self.tracker.run_hash,
                recipe_hash=self.loaded.hash,
                dataset_id=self.info.dataset_id,
                evals=self.eval_history,
                profile=list(self.profile),
                last_checkpoint=self.last_checkpoint,
                **best_of(self.eval_history),
            )
            if self.run_dir.is_dir():
                self.dir.write_summary(self.summary)
            self.tracker.params(outcome_params(self.summary))
            self.tracker.close()


def model_epoch_cap(learner: Any, n_data: int) -> int | None:
    """Most epochs the model phase can take, from the learner config's generic fields.

    ``max_epochs`` / ``pretrain_epochs``, else ``max_updates`` over the updates of one epoch
    (``batch_size`` rows); None when nothing caps it (early stopping alone). For the bar's
    ETA only: early stopping may end the phase sooner.
    """
    for name in ("max_epochs", "pretrain_epochs"):
        value = getattr(learner, name, None)
        if isinstance(value, int) and value > 0:
            return value
    updates, batch = getattr(learner, "max_updates", None), getattr(learner, "batch_size", None)
    if isinstance(updates, int) and isinstance(batch, int) and batch > 0 and n_data > 0:
        return max(1, math.ceil(updates / math.ceil(n_data / batch)))
    return None


def component_labels(resolved: dict[str, Any], slots: Any) -> dict[str, str]:
    """slot -> 'slot (type)' from the resolved recipe (what a non-finite stop names)."""
    out: dict[str, str] = {}
    for slot in slots:
        node: Any = resolved
        try:
            for part in slot.split("."):
                node = node[int(part)] if isinstance(node, list) else node[part]
            kind = node.get("type") if isinstance(node, dict) else None
        except (KeyError, IndexError, ValueError, TypeError):
            kind = None
        out[slot] = f"{slot} ({kind})" if kind else slot
    return out


def _compiled(fn: Any, console: Console) -> Any:
    """``torch.compile(fn)``, falling back to eager (with a warning) if compiling fails.

    Why: compilation is an optimization only; a backend that cannot compile the update on
    this machine must not stop the run. A failure is only caught before the first compiled
    step succeeded.
    """
    compiled = torch.compile(fn)
    ok: list[bool] = []

    def call(inputs: UpdateInputs) -> dict[str, torch.Tensor]:
        if ok and not ok[0]:
            return fn(inputs)
        try:
            out = compiled(inputs)
        except Exception as exc:
            if ok:
                raise
            console.print(
                f"[yellow]torch.compile failed ({type(exc).__name__}); running eagerly[/]"
            )
            ok.append(False)
            return fn(inputs)
        if not ok:
            ok.append(True)
        return out

    return call


class OneSeed:
    """The schedule's update for one seed: :class:`Trainer`'s parts, buffers and step.

    The metrics not yet logged and the latest rollout's live on the trainer (its checkpoint
    keeps them, so a resumed run logs what the interrupted one had not).
    """

    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer
        self.label = trainer.recipe.name
        self.stop_note = "saving a checkpoint after this step (again to abort)"

    def rollout(self, step: int) -> None:
        self.t.rollout_metrics = self.t.rollout()
        self.t.watch.observe(step, self.t.rollout_metrics)

    def update(self, step: int, n_real: int, n_model: int) -> None:
        t = self.t
        real = t.real.sample(n_real)
        model = t.model_buffer.sample(n_model) if n_model > 0 else None
        latest = t.step_fn(update_inputs(t.parts, step, real, model, t.buffers))
        t.watch.observe(step, latest)
        t.unlogged.update(latest)

    def at(self, step: int) -> None:
        self.t.step = step

    def check(self) -> None:
        self.t.watch.check(self.t.last_checkpoint)

    def log(self, rate: float, step: int) -> None:
        self.t.log_metrics(self.t.unlogged, self.t.rollout_metrics, rate, step)
        self.t.unlogged = {}

    def evaluate(self, step: int, episodes: int, progress: Callable[[int, int], None]) -> str:
        ev = self.t.evaluate(episodes, progress)
        self.t.record_eval(step, ev)
        return score_text(ev)

    def save(self) -> str:
        return self.t.save()


def train(loaded: Any, opts: RunOptions) -> dict[str, Any]:
    """Train ``loaded`` (a :class:`compose.recipe.LoadedRecipe`) as ``opts`` say."""
    return Trainer(loaded, opts).run()
