"""One policy-phase gradient step: critic, actor, temperature, targets, model learner.

The step reads top to bottom: shaper update, sampling-time shaping of the model rows, shaper
and critic aux updates, critic loss (critic target + critic aux losses) and step, actor aux
updates (e.g. AMPL's discriminator), actor loss (actor objective + actor aux losses) and step,
Polyak target updates (critics; the target policy when there is one), model-learner update.
It returns every term and gradient norm as device tensors keyed ``<slot>/<term>``; nothing
here synchronizes with the host.
Reference: SAC (Haarnoja et al. 2018) Algorithm 1, as used by MBPO/MOPO/MOBILE; the actor
aux updates sit between the critic and the actor steps as in AMPL's Algorithm 1 (critic,
then D_psi, then pi_phi). Why there: an actor aux loss trains what the actor's loss reads;
the critic's loss reads none of it, so before this order (actor aux updates first) the
same updates ran and only the random draws came in another order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from compose.kinds import Batch, Buffers, RewardShaper, UpdateInputs
from compose.nn import soft_update_
from compose.train.build import Parts

__all__ = [
    "UpdateStep",
    "actor_loss_of",
    "actor_optimizers",
    "critic_loss_of",
    "critic_optimizers",
    "grad_norm",
    "loss_of",
    "scalars_into",
    "shape_sampled_rows",
    "update_inputs",
]


def loss_of(terms: dict[str, Tensor]) -> Tensor | None:
    """The sum of a term dict's ``loss_*`` entries (None when it has none)."""
    losses = [v for k, v in terms.items() if k.startswith("loss_")]
    if not losses:
        return None
    if len(losses) == 1:  # the common case: no stack, no sum
        return losses[0].reshape(())
    return torch.stack([v.reshape(()) for v in losses]).sum()


def grad_norm(params: Iterable[nn.Parameter]) -> Tensor:
    """Total L2 norm of the gradients of ``params`` (foreach kernels, no host sync).

    Same arithmetic as ``torch.nn.utils.get_total_norm(grads, foreach=True)`` (per-tensor
    norms, then the norm of their stack), without its grouping by device and dtype.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    first = grads[0]
    if any(g.device != first.device or g.dtype != first.dtype for g in grads):
        return torch.nn.utils.get_total_norm(grads, foreach=True)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)


def scalars_into(prefix: str, terms: dict[str, Tensor], out: dict[str, Tensor]) -> None:
    """Detached scalar views of ``terms`` under ``<prefix>/<key>`` (no copy for 0-d floats).

    Why: a 0-d float term is kept as is (``detach`` is a view, no kernel); only a non-scalar
    term is averaged and a non-float one converted. Stacking and syncing happen at log time
    (the trainer) and in the non-finite watch (one stack per step).
    """
    for key, value in terms.items():
        value = value.detach()
        if value.dim():
            value = value.float().mean()
        elif not value.is_floating_point():
            value = value.float()
        out[f"{prefix}/{key}"] = value


def _summed(
    loss: Tensor | None,
    prefix: str,
    modules: Iterable[Any],
    inputs: UpdateInputs,
    out: dict[str, Tensor],
) -> Tensor | None:
    """``loss`` plus the ``loss_*`` terms of each aux module (logged under ``prefix.i``)."""
    for i, aux in enumerate(modules):
        aux_terms = aux.loss(inputs)
        scalars_into(f"{prefix}.{i}", aux_terms, out)
        aux_loss = loss_of(aux_terms)
        if aux_loss is not None:
            loss = aux_loss if loss is None else loss + aux_loss
    return loss


def critic_loss_of(parts: Parts, inputs: UpdateInputs, out: dict[str, Tensor]) -> Tensor | None:
    """The critic's loss: the critic target's terms plus every critic aux loss (logged)."""
    terms = parts.critic_target.loss(inputs)
    scalars_into("critic_target", terms, out)
    return _summed(loss_of(terms), "critic.aux_losses", parts.critic_aux, inputs, out)


def actor_loss_of(parts: Parts, inputs: UpdateInputs, out: dict[str, Tensor]) -> Tensor | None:
    """The actor's loss: the actor objective's terms plus every actor aux loss (logged)."""
    terms = parts.actor_objective.loss(inputs)
    scalars_into("actor_objective", terms, out)
    return _summed(loss_of(terms), "actor.aux_losses", parts.actor_aux, inputs, out)


def update_inputs(
    parts: Parts, step: int, real: Batch, model: Batch | None, buffers: Buffers | None = None
) -> UpdateInputs:
    """What the step hands to the components: real and model rows, their mix, agent, model,
    and the buffers they came from."""
    return UpdateInputs(
        step=step,
        real=real,
        model=model,
        batch=Batch.cat(real, model) if model is not None else real,
        agent=parts.agent,
        dynamics=parts.dynamics,
        buffers=buffers,
    )


def shape_sampled_rows(
    shaper: RewardShaper, inputs: UpdateInputs
) -> tuple[UpdateInputs, dict[str, Tensor]]:
    """``inputs`` with the model rows' rewards shaped now (sampling-time shapers), and diagnostics.

    A rollout-time shaper (or a batch without model rows) returns ``inputs`` unchanged: its
    rewards were shaped when the rows entered the buffer. Otherwise the model rows' raw
    rewards are replaced by ``shaper.shape_sampled``'s, in ``model`` and in the mixed
    ``batch`` (real rows first, as :meth:`Batch.cat` orders them).
    """
    model = inputs.model
    if shaper.shape_at != "sampling" or model is None or len(model) == 0:
        return inputs, {}
    result = shaper.shape_sampled(model, dynamics=inputs.dynamics, agent=inputs.agent)
    diagnostics = result.diagnostics
    rewards = result.rewards.reshape(model.rewards.shape).to(model.rewards.dtype).detach()
    shaped = model.replace(rewards=rewards)
    batch = inputs.batch
    if batch is not None and len(batch) != len(inputs.real):
        real_rewards = batch.rewards[: len(batch) - len(model)]
        batch = batch.replace(rewards=torch.cat([real_rewards, rewards]))
    return replace(inputs, model=shaped, batch=batch), diagnostics


def critic_optimizers(p: Parts) -> list[torch.optim.Optimizer]:
    """The critic's Adam and every optimizer attached by the critic target and aux losses."""
    return (
        [p.critic_optim]
        + p.critic_target.attached_optimizers()
        + [o for a in p.critic_aux for o in a.attached_optimizers()]
    )


def actor_optimizers(p: Parts) -> list[torch.optim.Optimizer]:
    """The policy's Adam and every optimizer attached by the actor objective and aux losses."""
    return (
        [p.policy_optim]
        + p.actor_objective.attached_optimizers()
        + [o for a in p.actor_aux for o in a.attached_optimizers()]
    )


class UpdateStep:
    """The gradient step of the policy phase for a built :class:`Parts`."""

    def __init__(self, parts: Parts, tau: float, actor_warmup: int = 0) -> None:
        self.parts = parts
        self.tau = tau
        self.actor_warmup = actor_warmup
        p = parts
        self.critic_opts = critic_optimizers(p)
        self.actor_opts = actor_optimizers(p)
        self.critic_params = list(p.critic.parameters())
        self.policy_params = list(p.policy.parameters())
        p.reward_shaper.check_shape_at()

    def __call__(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """Run one update on ``inputs``; returns detached scalar metrics."""
        p, out = self.parts, {}
        scalars_into("reward_shaper", p.reward_shaper.update(inputs), out)
        # a sampling-time shaper shapes with the state its update just left (DAMO Alg. 1 l. 6-8)
        inputs, shaping = shape_sampled_rows(p.reward_shaper, inputs)
        scalars_into("reward_shaper", shaping, out)
        for i, aux in enumerate(p.critic_aux):
            scalars_into(f"critic.aux_losses.{i}", aux.update(inputs), out)
        train_actor = inputs.step >= self.actor_warmup

        # critic: target + aux terms, one backward, critic Adam + attached optimizers
        for opt in self.critic_opts:
            opt.zero_grad(set_to_none=True)
        critic_loss = critic_loss_of(p, inputs, out)
        if critic_loss is not None:
            critic_loss.backward()
            out["grad_norm/critic"] = grad_norm(self.critic_params)
            for opt in self.critic_opts:
                opt.step()

        if train_actor:  # critic warm-up (train.actor_warmup) leaves the actor as it is
            for i, aux in enumerate(p.actor_aux):  # AMPL Algorithm 1: D_psi after the critic
                scalars_into(f"actor.aux_losses.{i}", aux.update(inputs), out)
            self._actor_step(inputs, out)
        out["actor_objective/alpha"] = p.actor_objective.temperature().detach().float()

        soft_update_(p.target_critic, p.critic, self.tau)
        if p.target_policy is not None:
            soft_update_(p.target_policy, p.policy, self.tau)
        scalars_into("model_learner", p.model_learner.update(inputs), out)
        return out

    def _actor_step(self, inputs: UpdateInputs, out: dict[str, Tensor]) -> None:
        """Actor objective + actor aux terms, one backward, actor Adam + attached optimizers."""
        p = self.parts
        # actor: objective + aux terms; the critic is frozen so no gradient is wasted on it
        for opt in self.actor_opts:
            opt.zero_grad(set_to_none=True)
        p.critic.requires_grad_(False)
        try:
            actor_loss = actor_loss_of(p, inputs, out)
            if actor_loss is not None:
                actor_loss.backward()
        finally:
            p.critic.requires_grad_(True)
        if actor_loss is not None:
            out["grad_norm/policy"] = grad_norm(self.policy_params)
            for opt in self.actor_opts:
                opt.step()
