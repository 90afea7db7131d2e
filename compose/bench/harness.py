"""What the bench runs: shapes, the dataset, recipes, built parts and the per-step closures.

Everything goes through the project's real code: recipes/mopo.yaml and recipes/mobile.yaml
loaded by :func:`compose.recipe.load_recipe`, built by :func:`compose.train.build.build_parts`,
stepped by :class:`compose.train.step.UpdateStep` on batches sampled from
:class:`compose.train.buffers.TransitionBuffer` as the trainer does, and rolled out by
:func:`compose.train.rollout.branched_rollout`.
The dynamics step is the model learner's own gradient step (``ModelLearner.trainer``, what
the ``mle`` learner's ``pretrain`` runs per step) on per-member shuffled [E, B] rows, without
the holdout evaluation. The bench uses the kinds' contracts only (compose.kinds), and the
recipe's fields for sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from compose.kinds import Batch, Buffers, UpdateInputs
from compose.train.buffers import TransitionBuffer
from compose.train.build import Parts, build_parts
from compose.train.rollout import branched_rollout
from compose.train.runtime import tune_malloc
from compose.train.step import UpdateStep
from compose.train.watch import NonFiniteWatch

__all__ = [
    "SHAPES",
    "Shapes",
    "PolicyHarness",
    "choose_dataset",
    "dynamics_step",
    "load_bench_recipe",
    "make_parts",
    "rollout_fn",
]


@dataclass(frozen=True)
class Shapes:
    """Problem sizes: ``reference`` (issue 5) or ``toy`` (smoke tests, seconds)."""

    name: str
    batch: int = 256
    small_batch: int = 8
    rollout_starts: int = 50_000
    rollout_length: int = 5
    fill_starts: int = 5_000
    overrides: tuple[str, ...] = ()
    mobile_overrides: tuple[str, ...] = ()
    rss_steps: int = 100
    rss_model_updates: int = 100


_TOY_NETS = (
    "dynamics.members=3",
    "dynamics.elites=2",
    "dynamics.hidden=[16, 16]",
    "dynamics.weight_decay=[2.5e-5, 5.0e-5, 1.0e-4]",
    "policy.hidden=[16, 16]",
    "critic.hidden=[16, 16]",
    "rollout.batch_size=256",
)

SHAPES: dict[str, Shapes] = {
    "reference": Shapes("reference"),
    "toy": Shapes(
        "toy",
        batch=32,
        small_batch=8,
        rollout_starts=256,
        rollout_length=2,
        fill_starts=64,
        overrides=_TOY_NETS,
        mobile_overrides=("critic_target.uncertainty.samples=2",),
        rss_steps=5,
        rss_model_updates=5,
    ),
}


def choose_dataset(requested: str | None) -> tuple[str, str]:
    """(dataset id, why): ``requested``, else the factory's hopper medium if it is in the
    local store, else the factory's hopper random (made by the factory when absent)."""
    if requested:
        return requested, "requested"
    from compose.data import minari_io

    medium, random = "compose/hopper/medium-v0", "compose/hopper/random-v0"
    if minari_io.is_local(medium):
        return medium, "factory medium (local)"
    why = "factory random (local)" if minari_io.is_local(random) else "factory random (made now)"
    return random, why + "; shapes are what matter"


def load_bench_recipe(
    name: str, dataset_id: str, shapes: Shapes, extra: tuple[str, ...] = ()
) -> Any:
    """The validated recipe ``name`` on ``dataset_id`` with the shapes' overrides."""
    from compose.recipe import load_recipe

    overrides = [f"dataset.id={dataset_id}", *shapes.overrides, *extra]
    if name == "mobile":
        overrides += list(shapes.mobile_overrides)
    return load_recipe(name, overrides).recipe


def make_parts(recipe: Any, data: Any, device: torch.device) -> Parts:
    """Build ``recipe`` on ``data`` (on ``device``) with the dynamics' normalizers fitted."""
    tune_malloc()  # as apply_runtime does for a run
    parts = build_parts(recipe, data, device)
    targets = torch.cat([data.next_obs - data.obs, data.rewards.reshape(-1, 1)], -1)
    parts.dynamics.fit_normalizer(data.obs, data.actions, targets)
    return parts


def dynamics_step(
    parts: Parts, batch: int, holdout: int = 1000
) -> tuple[Callable[[int], None], Callable[[], None], int]:
    """(step(i), reshuffle(), steps per epoch) for the dynamics' MLE training (``batch`` rows
    per member and step: the recipe's ``model_learner.batch_size``).

    ``step`` takes the i-th [E, B] block of a per-member permutation of the training rows
    (reshuffled when an epoch is used up); ``reshuffle`` draws a new permutation (the
    per-epoch cost).
    """
    dyn, data, learner = parts.dynamics, parts.data, parts.model_learner
    n_train = len(data) - holdout
    columns = (
        data.obs[:n_train],
        data.actions[:n_train],
        data.next_obs[:n_train],
        data.rewards.reshape(-1)[:n_train],
        data.terminals.reshape(-1).float()[:n_train],
    )
    members = dyn.members
    trainer = learner.trainer(dyn, columns)  # the learner's own step (no aux losses in mbpo/mopo)
    per_epoch = -(-n_train // batch)
    state: dict[str, Tensor] = {}

    def reshuffle() -> None:
        state["order"] = torch.rand(members, n_train, device=data.obs.device).argsort(dim=1)

    def step(i: int) -> None:
        k = i % per_epoch
        if (k == 0 and i > 0) or "order" not in state:
            reshuffle()
        trainer.step(state["order"][:, k * batch : (k + 1) * batch])

    dyn.train()
    return step, reshuffle, per_epoch


def rollout_fn(
    parts: Parts,
    recipe: Any,
    buffer: TransitionBuffer,
    real: TransitionBuffer,
    starts: int,
    length: int,
) -> Callable[[], Any]:
    """One round of branched rollouts from ``starts`` dataset states, as the trainer does."""
    p = parts

    def run() -> Any:
        idx = torch.randint(0, len(real), (starts,), device=real.device)
        return branched_rollout(
            real.obs[idx],
            length=length,
            chunk_size=recipe.rollout.chunk_size,
            dynamics=p.dynamics,
            reward_shaper=p.reward_shaper,
            buffer=buffer,
            policy=p.policy,
            agent=p.agent,
            action_low=p.ctx.action_low,
            action_high=p.ctx.action_high,
            actions=recipe.rollout.actions,
        )

    return run


@dataclass
class PolicyHarness:
    """The trainer's per-step policy-phase work: sample real + model rows, update, watch."""

    parts: Parts
    recipe: Any
    batch: int
    fill_starts: int
    real: TransitionBuffer = field(init=False)
    model: TransitionBuffer = field(init=False)

    def __post_init__(self) -> None:
        p, r, d = self.parts, self.recipe, self.parts.data
        device = p.ctx.device
        self.real = TransitionBuffer.from_tensors(
            d.obs, d.actions, d.rewards, d.next_obs, d.terminals.bool(), device
        )
        ro = r.rollout
        self.model = TransitionBuffer(
            ro.batch_size * ro.length * ro.retain, p.ctx.obs_dim, p.ctx.act_dim, device
        )
        p.dynamics.eval()
        rollout_fn(p, r, self.model, self.real, self.fill_starts, ro.length)()
        self.n_real = int(round(self.batch * ro.real_ratio))
        self.n_model = self.batch - self.n_real
        self.update = UpdateStep(p, r.train.tau)
        self.watch = NonFiniteWatch(device)

    def inputs(self, step: int) -> UpdateInputs:
        """A mixed batch as the trainer samples it."""
        real = self.real.sample(self.n_real)
        model = self.model.sample(self.n_model) if self.n_model > 0 else None
        return UpdateInputs(
            step=step,
            real=real,
            model=model,
            batch=Batch.cat(real, model) if model is not None else real,
            agent=self.parts.agent,
            dynamics=self.parts.dynamics,
            buffers=Buffers(real=self.real, model=self.model),
        )

    def step(self, i: int) -> None:
        """Sample, update, observe (what one iteration of the policy phase costs)."""
        out = self.update(self.inputs(i))
        self.watch.observe(i, out)
