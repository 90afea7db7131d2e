"""AMPL's agent-side components: implicit policy, mixed_min_max, q_normalized, rollout_discriminator."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from components.actor_objectives.q_normalized import QNormalizedConfig
from components.aux_losses.rollout_discriminator import RolloutDiscriminatorConfig
from components.critic_targets.mixed_min_max import MixedMinMaxConfig
from components.dynamics.gaussian_ensemble import GaussianEnsembleConfig
from components.policies.implicit import ImplicitPolicyConfig
from compose.kinds import UpdateInputs
from tests.helpers.ampl_damo import make_agent, make_batch, make_ctx, make_data


def test_implicit_policy_bounds_noise_and_no_density() -> None:
    torch.manual_seed(0)
    ctx = make_ctx()
    ctx.action_low, ctx.action_high = torch.tensor([-2.0, 0.0]), torch.tensor([2.0, 1.0])
    pi = ImplicitPolicyConfig(hidden=[8], noise_dim=3).build(ctx)
    obs = torch.randn(4, 5, 3)
    out = pi(obs)
    assert out.actions.shape == (4, 5, 2) and out.log_prob is None
    assert (out.actions[..., 0].abs() <= 2).all() and (out.actions[..., 1] >= 0).all()
    assert (out.actions[..., 1] <= 1).all()
    torch.testing.assert_close(pi.act(obs), pi.act(obs))  # deterministic: z = 0
    assert not torch.allclose(pi(obs).actions, pi(obs).actions)  # stochastic: fresh z
    z = torch.zeros(4, 5, 3)
    torch.testing.assert_close(pi(obs, noise=z).actions, pi.act(obs))


@pytest.mark.parametrize("next_action", ["target_policy", "policy"])
def test_mixed_min_max_target_and_huber_by_hand(next_action: str) -> None:
    """Eq. 12: a' from the target policy pi_phi' (a perturbed copy here), or the policy."""
    torch.manual_seed(0)
    ctx = make_ctx()
    agent = make_agent(ctx)
    agent.target_policy = copy.deepcopy(agent.policy).requires_grad_(False)
    with torch.no_grad():
        for p in agent.target_policy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    batch = make_batch(16)
    target = MixedMinMaxConfig(c=0.75, huber_delta=0.5, next_action=next_action).build(ctx)
    assert target.uses_target_policy == (next_action == "target_policy")
    torch.manual_seed(7)
    out = target.loss(UpdateInputs(step=0, real=batch, batch=batch, agent=agent))
    torch.manual_seed(7)
    pi = agent.target_policy if next_action == "target_policy" else agent.policy
    a2 = pi(batch.next_obs).actions
    q1, q2 = agent.target_critic(batch.next_obs, a2)
    mix = 0.75 * torch.minimum(q1, q2) + 0.25 * torch.maximum(q1, q2)
    y = batch.rewards + agent.gamma * (1 - batch.terminals) * mix
    qa, qb = agent.critic(batch.obs, batch.actions)

    def huber(e: torch.Tensor) -> torch.Tensor:
        return torch.where(e.abs() <= 0.5, 0.5 * e**2, 0.5 * (e.abs() - 0.25)).mean()

    expected = huber(qa - y.detach()) + huber(qb - y.detach())
    torch.testing.assert_close(out["loss_critic"], expected)
    torch.testing.assert_close(out["target_mean"], y.detach().mean())
    out["loss_critic"].backward()
    assert all(p.grad is None for p in agent.target_critic.parameters())
    assert all(p.grad is None for p in agent.policy.parameters())


def test_q_normalized_lambda_and_soft_q_avg() -> None:
    torch.manual_seed(0)
    ctx = make_ctx()
    pi = ImplicitPolicyConfig(hidden=[8]).build(ctx)
    agent = make_agent(ctx, policy=pi)
    batch = make_batch(32)
    obj = QNormalizedConfig(lambda_prime=10.0, q_avg_tau=0.1).build(ctx)
    inputs = UpdateInputs(step=0, real=batch, batch=batch, agent=agent)
    out1 = obj.loss(inputs)
    q_first = float(out1["q_avg"])
    assert float(out1["lambda"]) == pytest.approx(10.0 / q_first)
    # loss = -lambda * mean min Q(s, pi(s)) and its gradient reaches only the policy
    assert float(out1["loss_actor"].detach()) == pytest.approx(
        -10.0 / q_first * float(out1["q_pi_mean"]), rel=1e-5
    )
    out1["loss_actor"].backward()
    assert all(p.grad is None for p in agent.critic.parameters())
    assert any(p.grad is not None for p in pi.parameters())
    batch2 = make_batch(32, seed=1)
    torch.manual_seed(1)
    out2 = obj.loss(UpdateInputs(step=1, real=batch2, batch=batch2, agent=agent))
    torch.manual_seed(1)  # replay the policy noise
    with torch.no_grad():
        q = agent.critic(batch2.obs, pi(batch2.obs).actions).min(0).values
    expected = 0.9 * q_first + 0.1 * float(q.abs().mean())
    assert float(out2["q_avg"]) == pytest.approx(expected, rel=1e-5)
    assert float(out2["lambda"]) == pytest.approx(10.0 / expected, rel=1e-5)


def test_rollout_discriminator_trains_d_and_generator_reaches_policy_only() -> None:
    torch.manual_seed(0)
    data = make_data()
    ctx = make_ctx(data=data)
    dyn = GaussianEnsembleConfig(
        members=3, elites=2, hidden=[8, 8], weight_decay=[0.0, 0.0, 0.0]
    ).build(ctx)
    pi = ImplicitPolicyConfig(hidden=[8]).build(ctx)
    agent = make_agent(ctx, policy=pi)
    aux = RolloutDiscriminatorConfig(hidden=[16], lr=1e-2).build(ctx)
    real = make_batch(64)
    inputs = UpdateInputs(step=0, real=real, batch=real, agent=agent, dynamics=dyn)
    first = aux.update(inputs)
    for step in range(1, 60):
        last = aux.update(UpdateInputs(step=step, real=real, batch=real, agent=agent, dynamics=dyn))
    assert float(last["discriminator_loss"]) < float(first["discriminator_loss"])
    assert float(last["d_true"]) > float(last["d_fake"])
    inputs = UpdateInputs(step=99, real=real, batch=real, agent=agent, dynamics=dyn)
    aux.update(inputs)
    s, s2 = aux.fake_states(inputs)
    assert s.shape == s2.shape == real.obs.shape
    aux.disc.zero_grad(set_to_none=True)
    out = aux.loss(inputs)
    out["loss_generator"].backward()
    assert all(p.grad is None for p in aux.disc.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in pi.parameters())
    # Eq. 15 by hand with the same fake states and a fixed noise-free policy draw
    states = torch.cat([s, s2])
    logits = aux.disc(states, pi.act(states))
    torch.manual_seed(0)
    lg = torch.log1p(-torch.sigmoid(logits)).mean()
    assert torch.isclose(-F.softplus(logits).mean(), lg, atol=1e-5)
