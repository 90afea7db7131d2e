"""sac actor objective: loss value, gradient routing, temperature direction, fixed alpha."""

from __future__ import annotations

import math

import torch

from components.actor_objectives.sac import SacActorConfig
from compose.kinds import UpdateInputs
from tests.helpers.agent import make_agent, make_batch, make_ctx


def _setup(**cfg: object):
    torch.manual_seed(0)
    ctx = make_ctx(obs_dim=3, act_dim=2)
    actor = SacActorConfig(**cfg).build(ctx)
    agent = make_agent(ctx)
    agent.temperature = actor.temperature
    real, _, batch = make_batch(16, ctx)
    return ctx, actor, agent, UpdateInputs(step=0, real=real, batch=batch, agent=agent)


def test_loss_equals_hand_computation() -> None:
    _, actor, agent, inputs = _setup(alpha=0.5)
    torch.manual_seed(3)
    out = actor.loss(inputs)
    torch.manual_seed(3)
    s = agent.policy(inputs.batch.obs)
    q = agent.critic(inputs.batch.obs, s.actions).min(0).values
    torch.testing.assert_close(out["loss_actor"], (0.5 * s.log_prob - q).mean())
    torch.testing.assert_close(out["loss_alpha"], -(math.log(0.5) * (s.log_prob - 2.0)).mean())
    torch.testing.assert_close(out["alpha"], torch.tensor(0.5))
    assert actor.target_entropy == -2.0


def test_gradients_reach_policy_and_temperature_only() -> None:
    _, actor, agent, inputs = _setup()
    out = actor.loss(inputs)
    out["loss_actor"].backward(retain_graph=True)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.policy.parameters())
    assert all(p.grad is None for p in agent.critic.parameters())
    assert all(p.grad is None for p in agent.target_critic.parameters())
    assert actor.log_alpha.grad is None
    agent.policy.zero_grad(set_to_none=True)
    out["loss_alpha"].backward()
    assert actor.log_alpha.grad is not None and actor.log_alpha.grad != 0
    assert all(p.grad is None for p in agent.policy.parameters())
    assert all(p.grad is None for p in agent.critic.parameters())


def _alpha_after_steps(target_entropy: float, steps: int = 20) -> float:
    _, actor, _, inputs = _setup(alpha=0.2, alpha_lr=1e-2, target_entropy=target_entropy)
    (opt,) = actor.attached_optimizers()
    for _ in range(steps):
        opt.zero_grad()
        actor.loss(inputs)["loss_alpha"].backward()
        opt.step()
    return float(actor.temperature())


def test_temperature_moves_toward_target_entropy() -> None:
    # entropy below a high target: alpha grows; above a very low target: alpha shrinks
    assert _alpha_after_steps(target_entropy=10.0) > 0.2 * 1.1
    assert _alpha_after_steps(target_entropy=-100.0) < 0.2 / 1.1


def test_fixed_alpha_has_no_temperature_loss() -> None:
    _, actor, _, inputs = _setup(auto_alpha=False, alpha=0.1)
    out = actor.loss(inputs)
    assert "loss_alpha" not in out and actor.attached_optimizers() == []
    torch.testing.assert_close(actor.temperature(), torch.tensor(0.1))
    assert not any(p.requires_grad for p in actor.parameters())


def test_checkpoint_state_holds_log_alpha_and_optimizer() -> None:
    _, actor, _, inputs = _setup(alpha=0.3)
    (opt,) = actor.attached_optimizers()
    actor.loss(inputs)["loss_alpha"].backward()
    opt.step()
    state = actor.checkpoint_state()
    _, other, _, _ = _setup(alpha=0.3)
    other.load_checkpoint_state(state)
    torch.testing.assert_close(other.temperature(), actor.temperature())
    assert other.attached_optimizers()[0].state_dict()["state"]


class _PlainCritic(torch.nn.Module):
    """A critic without ``frozen``: exercises the functional_call path."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.num_critics = inner.num_critics

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return self.inner(obs, act)


def test_critic_without_frozen_gets_no_gradient_either() -> None:
    _, actor, agent, inputs = _setup()
    torch.manual_seed(4)
    expected = actor.loss(inputs)["loss_actor"]
    agent.critic = _PlainCritic(agent.critic)
    torch.manual_seed(4)
    out = actor.loss(inputs)
    torch.testing.assert_close(out["loss_actor"], expected)
    out["loss_actor"].backward()
    assert all(p.grad is None for p in agent.critic.parameters())
    assert any(p.grad is not None for p in agent.policy.parameters())
