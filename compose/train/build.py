"""Build every runtime piece of a recipe in dependency order, on one device.

Order: dataset -> BuildContext -> dynamics -> model learner (builds its model aux losses) ->
policy -> critic ensemble, target critic and its Adam -> actor objective -> Agent ->
critic target (and a target policy if it uses one), reward shaper, critic and actor aux
losses; the policy's Adam last.
Why: each component receives what it depends on through the context, never globals, so the
same build works for any recipe (no algorithm names here).
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from compose.kinds import (
    ActorObjective,
    Agent,
    BuildContext,
    Component,
    CriticTarget,
    Dynamics,
    ModelLearner,
    Policy,
    RewardShaper,
)
from compose.nn import make_adam
from compose.nn.q_ensemble import QEnsemble

__all__ = ["Parts", "build_parts", "dataset_fingerprint"]


@dataclass
class Parts:
    """The built run: data, components by slot, critics, optimizers."""

    ctx: BuildContext
    data: Any
    dynamics: Dynamics
    model_learner: ModelLearner
    policy: Policy
    critic: QEnsemble
    target_critic: QEnsemble
    critic_optim: torch.optim.Optimizer
    policy_optim: torch.optim.Optimizer
    actor_objective: ActorObjective
    agent: Agent
    critic_target: CriticTarget
    reward_shaper: RewardShaper
    critic_aux: nn.ModuleList
    actor_aux: nn.ModuleList
    target_policy: Policy | None = None

    def components(self) -> dict[str, Component]:
        """Every component by its slot path (what checkpoints and metrics are keyed by)."""
        out: dict[str, Component] = {
            "dynamics": self.dynamics,
            "model_learner": self.model_learner,
            "policy": self.policy,
            "actor_objective": self.actor_objective,
            "critic_target": self.critic_target,
            "reward_shaper": self.reward_shaper,
        }
        out.update({f"critic.aux_losses.{i}": m for i, m in enumerate(self.critic_aux)})
        out.update({f"actor.aux_losses.{i}": m for i, m in enumerate(self.actor_aux)})
        return out


def dataset_fingerprint(data: Any) -> str:
    """sha256 over the transition tensors (content identity of a dataset, any source)."""
    digest = hashlib.sha256()
    for name in ("obs", "actions", "rewards", "next_obs", "terminals"):
        tensor = getattr(data, name).detach().to("cpu", torch.float32).contiguous()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def _termination(env_id: str) -> Any:
    from compose.envs import termination_fn

    try:
        return termination_fn(env_id)
    except ValueError:
        return None  # a dynamics model without a known rule never terminates (or learns it)


def _reward(env_id: str) -> Any:
    from compose.envs import reward_fn

    try:
        return reward_fn(env_id)
    except ValueError:
        return None  # no known reward: a dynamics model must learn it (checked when built)


def build_parts(recipe: Any, data: Any, device: torch.device) -> Parts:
    """Build all components of ``recipe`` for ``data`` (already on ``device``)."""
    info = data.info
    ctx = BuildContext(
        obs_dim=int(info.obs_dim),
        act_dim=int(info.act_dim),
        action_low=torch.as_tensor(info.action_low, dtype=torch.float32, device=device),
        action_high=torch.as_tensor(info.action_high, dtype=torch.float32, device=device),
        device=device,
        gamma=float(recipe.train.gamma),
        data=data,
        termination=_termination(info.env_id),
        reward=_reward(info.env_id),
        seed=int(recipe.seed),
    )
    dynamics = ctx.build(recipe.dynamics).to(device)
    ctx.dynamics = dynamics
    model_learner = ctx.build(recipe.model_learner).to(device)
    policy = ctx.build(recipe.policy).to(device)
    ctx.policy = policy
    critic = QEnsemble(
        ctx.obs_dim, ctx.act_dim, recipe.critic.hidden, recipe.critic.num_critics
    ).to(device)
    target_critic = copy.deepcopy(critic).requires_grad_(False)
    critic_optim = make_adam(critic.parameters(), lr=recipe.critic.lr)
    actor_objective = ctx.build(recipe.actor_objective).to(device)
    agent = Agent(
        policy=policy,
        critic=critic,
        target_critic=target_critic,
        gamma=ctx.gamma,
        temperature=actor_objective.temperature,
    )
    ctx.agent = agent
    critic_target = ctx.build(recipe.critic_target).to(device)
    target_policy = None
    if critic_target.uses_target_policy:
        target_policy = copy.deepcopy(policy).requires_grad_(False)
        agent.target_policy = target_policy
    reward_shaper = ctx.build(recipe.reward_shaper).to(device)
    critic_aux = nn.ModuleList([ctx.build(c) for c in recipe.critic.aux_losses]).to(device)
    actor_aux = nn.ModuleList([ctx.build(c) for c in recipe.actor.aux_losses]).to(device)
    policy_optim = make_adam(policy.parameters(), lr=recipe.actor.lr)
    return Parts(
        ctx=ctx,
        data=data,
        dynamics=dynamics,
        model_learner=model_learner,
        policy=policy,
        critic=critic,
        target_critic=target_critic,
        critic_optim=critic_optim,
        policy_optim=policy_optim,
        actor_objective=actor_objective,
        agent=agent,
        critic_target=critic_target,
        reward_shaper=reward_shaper,
        critic_aux=critic_aux,
        actor_aux=actor_aux,
        target_policy=target_policy,
    )
