"""The policy-phase gradient step of K seeds at once: one vmapped critic and actor update.

Same mathematics as :class:`compose.train.step.UpdateStep`, per seed: critic loss (critic
target + critic aux losses) and its optimizers, then actor loss (actor objective + actor aux
losses) with the updated critic, the temperature, the Polyak target update. The K seeds'
modules are stacked (:class:`compose.train.seeds.stack.SeedStack`); the first seed's
components are run once under ``torch.func.vmap`` over the stack with
:meth:`SeedStack.swapped` (so they see seed k's weights as if they were their own) and
``torch.func.grad`` in place of ``backward``; random draws come from each seed's own
generator (:class:`compose.train.seeds.rng.PerSeedRandom`). One fused optimizer step then
updates every seed. Each seed therefore follows the run it would have had alone, to
floating-point rounding (tests/train/test_seed_batch.py).

What cannot be batched is refused when the step is built (:func:`unbatchable`): components
that train themselves during the policy phase (an ``update`` of their own: RAMBO's and
ROMI's model learners, AMPL's discriminator, DAMO's classifier), reward shapers that shape
at sampling time (``shape_at == "sampling"``: this step takes the buffers' rewards as
stored), and non-elementwise optimizers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import grad

from compose.kinds import Batch, Component, UpdateInputs
from compose.train.buffers import TRANSITION_FIELDS
from compose.train.build import Parts
from compose.train.seeds.rng import PerSeedRandom, vmap_seeds
from compose.train.seeds.stack import SeedStack, flat_params
from compose.train.step import (
    actor_loss_of,
    actor_optimizers,
    critic_loss_of,
    critic_optimizers,
    update_inputs,
)

__all__ = ["SeedBatchedStep", "unbatchable"]


def unbatchable(parts: Parts) -> list[str]:
    """Why ``parts`` cannot run seed-batched: one line per offending slot (empty: it can)."""
    reasons = []
    if parts.model_learner.updates_during_policy:
        reasons.append(
            "model_learner: trains the dynamics during the policy phase (its own optimizer "
            "steps inside the update)"
        )
    if parts.target_policy is not None:
        reasons.append("critic_target: reads a target policy (pi_phi'), which is not stacked")
    if parts.reward_shaper.shape_at == "sampling":
        reasons.append(
            "reward_shaper: shapes the model rows of each batch at sampling time "
            "(shape_at: sampling)"
        )
    for slot, component in parts.components().items():
        if slot in ("dynamics", "model_learner", "policy"):
            continue
        if type(component).update is not Component.update:
            reasons.append(f"{slot}: {type(component).__name__} trains itself in update()")
    return reasons


class _Slots(nn.Module):
    """Every module of one seed's run under one root, so one name addresses one tensor."""

    def __init__(self, parts: Parts) -> None:
        super().__init__()
        for slot, component in parts.components().items():
            self.add_module(slot.replace(".", "_"), component)
        self.critic = parts.critic
        self.target_critic = parts.target_critic


def _total_norm(grads: Sequence[Tensor]) -> Tensor:
    """Same arithmetic as :func:`compose.train.step.grad_norm`: norm of per-tensor norms.

    Why not that function: ``torch._foreach_norm`` has no vmap batching rule (torch 2.13).
    """
    return torch.linalg.vector_norm(torch.stack([g.norm(2.0) for g in grads]), 2.0)


class SeedBatchedStep:
    """One policy-phase update for every seed of ``parts`` (one :class:`Parts` per seed).

    ``generators[k]`` is seed k's random stream. Call with stacked batches: each field
    [K, n, ...] for the real and the model rows.
    """

    def __init__(
        self,
        parts: Sequence[Parts],
        generators: Sequence[torch.Generator],
        tau: float,
        actor_warmup: int = 0,
    ) -> None:
        self.parts = list(parts)
        self.first = self.parts[0]
        self.tau = tau
        self.actor_warmup = actor_warmup
        self.slots = [_Slots(p) for p in self.parts]
        self.stack = SeedStack(self.slots)
        critic_opts = [critic_optimizers(p) for p in self.parts]
        actor_opts = [actor_optimizers(p) for p in self.parts]
        self.critic_opts = self.stack.optimizers(critic_opts)
        self.actor_opts = self.stack.optimizers(actor_opts)
        self.critic_names = _names(self.stack, critic_opts[0])
        self.actor_names = _names(self.stack, actor_opts[0])
        self.critic_norm_names = self.stack.names_of(list(self.first.critic.parameters()))
        self.policy_norm_names = self.stack.names_of(list(self.first.policy.parameters()))
        self.target_names = self.stack.names_of(list(self.first.target_critic.parameters()))
        owned = _owned_generators(self.parts)
        self.random = PerSeedRandom(generators, owned)

    # -- the step -------------------------------------------------------------------------
    def __call__(self, step: int, real: Batch, model: Batch | None) -> dict[str, Tensor]:
        """Update every seed once; metrics as [K] tensors keyed like UpdateStep's."""
        out: dict[str, Tensor] = {}
        with self.random:
            self._update(
                self.critic_opts,
                self.critic_names,
                self.critic_norm_names,
                "grad_norm/critic",
                critic_loss_of,
                step,
                real,
                model,
                out,
            )
            if step >= self.actor_warmup:  # the critic's tensors are not differentiated here
                self._update(
                    self.actor_opts,
                    self.actor_names,
                    self.policy_norm_names,
                    "grad_norm/policy",
                    actor_loss_of,
                    step,
                    real,
                    model,
                    out,
                )
            out["actor_objective/alpha"] = self._temperature()
        stack = self.stack
        torch._foreach_lerp_(
            [stack.params[n] for n in self.target_names],
            [stack.params[n] for n in self.critic_norm_names],
            self.tau,
        )
        return out

    def _update(
        self,
        optimizers: Sequence[torch.optim.Optimizer],
        names: Sequence[str],
        norm_names: Sequence[str],
        norm_key: str,
        loss_fn: Callable[[Parts, UpdateInputs, dict[str, Tensor]], Tensor | None],
        step: int,
        real: Batch,
        model: Batch | None,
        out: dict[str, Tensor],
    ) -> None:
        """Gradients of ``loss_fn`` w.r.t. ``names`` for every seed, then ``optimizers``."""
        state = self.stack.state()
        trained = {n: state.pop(n) for n in names}
        first, random, swapped = self.first, self.random, self.stack.swapped
        has_loss: list[bool] = []

        def per_seed(
            trained: dict[str, Tensor],
            rest: dict[str, Tensor],
            real_t: tuple[Tensor, ...],
            model_t: tuple[Tensor, ...] | None,
        ) -> Any:
            with random.batched():

                def loss(trained: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
                    metrics: dict[str, Tensor] = {}
                    model = Batch(*model_t) if model_t is not None else None
                    inputs = update_inputs(first, step, Batch(*real_t), model)
                    with swapped({**rest, **trained}):
                        value = loss_fn(first, inputs, metrics)
                    has_loss.append(value is not None)
                    return (value if value is not None else torch.zeros(())), metrics

                grads, metrics = grad(loss, has_aux=True)(trained)
                metrics[norm_key] = _total_norm([grads[n] for n in norm_names])
                return grads, metrics

        real_t = tuple(getattr(real, f) for f in TRANSITION_FIELDS)
        model_t = tuple(getattr(model, f) for f in TRANSITION_FIELDS) if model is not None else None
        grads, metrics = vmap_seeds(per_seed, trained, state, real_t, model_t)
        if not has_loss[-1]:
            out.update({k: v for k, v in metrics.items() if k != norm_key})
            return
        out.update(metrics)
        for name in names:
            self.stack.params[name].grad = grads[name]
        for opt in optimizers:
            opt.step()
        for name in names:
            self.stack.params[name].grad = None

    def _temperature(self) -> Tensor:
        """Each seed's alpha after its update (the actor objective reads only its own tensors)."""
        first = self.first
        own = {n: t for n, t in self.stack.state().items() if n.startswith("actor_objective.")}
        if not own:  # a fixed temperature held as a plain attribute: the same for every seed
            return first.actor_objective.temperature().detach().float().expand(self.stack.k)

        def per_seed(state: dict[str, Tensor]) -> Tensor:
            with self.stack.swapped(state):
                return first.actor_objective.temperature().detach().float()

        return vmap_seeds(per_seed, own)

    def export_optimizer_states(self) -> None:
        """Each seed's optimizers get views of the stacked state (call before a checkpoint)."""
        self.stack.export_optimizer_states()


def _names(stack: SeedStack, opts: Sequence[torch.optim.Optimizer]) -> list[str]:
    return stack.names_of([p for o in opts for p in flat_params(o)])


def _owned_generators(parts: Sequence[Parts]) -> dict[int, list[torch.Generator]]:
    """Each generator attribute of the first seed's components -> that attribute in each seed."""
    owned: dict[int, list[torch.Generator]] = {}
    per_seed = [p.components() for p in parts]
    for slot, component in per_seed[0].items():
        for module_name, module in component.named_modules():
            for attr, value in vars(module).items():
                if isinstance(value, torch.Generator):
                    owned[id(value)] = [
                        getattr(c[slot].get_submodule(module_name), attr) for c in per_seed
                    ]
    return owned
