"""DAMO's f-divergence dual: the conjugates against their definition, and the critic/actor losses."""

from __future__ import annotations

import pytest
import torch

from components.actor_objectives.fdiv_dual import FdivDualActorConfig
from components.critic_targets._fdiv_dual import (
    CONJUGATES,
    GENERATORS,
    conjugate,
    conjugate_argmax,
)
from components.critic_targets.fdiv_dual import FdivDualCriticConfig
from compose.kinds import UpdateInputs

from .helpers import make_agent, make_batch, make_ctx, make_data


@pytest.mark.parametrize("name", sorted(CONJUGATES))
def test_conjugate_matches_grid_sup(name: str) -> None:
    """f*(y) == sup_{x in dom f} (x y - f(x)) on a fine grid, and the argmax matches."""
    f, lo = GENERATORS[name]
    x = torch.linspace(lo, lo + 12.0, 60_001, dtype=torch.float64)
    y = torch.linspace(-3.0, 5.0, 161, dtype=torch.float64)
    values = y[:, None] * x[None, :] - f(x)[None, :]
    sup, arg = values.max(dim=1)
    ours = conjugate(name, y)
    torch.testing.assert_close(ours, sup, atol=1e-6, rtol=1e-6)
    # The maximizer (the implied ratio); skip the kink of ratio_domain at y = 1/4.
    keep = (y - 0.25).abs() > 1e-3
    torch.testing.assert_close(conjugate_argmax(name, y)[keep], x[arg][keep], atol=1e-3, rtol=0)


def test_paper_formula_is_not_the_conjugate_of_the_cubic() -> None:
    """App. C.1's printed f*(y) = 2/3 (y-1)^(3/2) disagrees with sup_x (x y - (x-1)^3/3) at y = 1."""
    x = torch.linspace(1.0, 10.0, 90_001, dtype=torch.float64)
    sup = (x - (x - 1) ** 3 / 3).max()
    assert float(sup) == pytest.approx(5.0 / 3.0, abs=1e-6)
    assert float(conjugate("paper", torch.tensor(1.0))) == 0.0
    assert float(conjugate("convex_domain", torch.tensor(1.0))) == pytest.approx(5.0 / 3.0)


def test_conjugates_are_convex_and_finite_with_finite_grads() -> None:
    y = torch.linspace(-50, 50, 1001, requires_grad=True)
    for name in CONJUGATES:
        v = conjugate(name, y)
        (g,) = torch.autograd.grad(v.sum(), y)
        assert torch.isfinite(v).all() and torch.isfinite(g).all()
        assert (g[1:] - g[:-1] >= -1e-6).all(), name  # derivative non-decreasing: convex


def _setup(conj: str = "ratio_domain", bootstrap: str = "online"):
    torch.manual_seed(0)
    data = make_data()
    ctx = make_ctx(data=data)
    agent = make_agent(ctx)
    batch = make_batch(32)
    critic = FdivDualCriticConfig(alpha=2.0, conjugate=conj, bootstrap=bootstrap).build(ctx)
    inputs = UpdateInputs(step=1, real=batch, batch=batch, agent=agent)
    return ctx, data, agent, batch, critic, inputs


@pytest.mark.parametrize("conj", sorted(CONJUGATES))
def test_critic_loss_equals_eq2_by_hand(conj: str) -> None:
    """loss_critic == sum_k (1-g) mean Q_k(s0, a0) + alpha mean f*(Phi_k / alpha), by hand."""
    ctx, data, agent, batch, critic, inputs = _setup(conj)
    torch.manual_seed(5)
    out = critic.loss(inputs)
    torch.manual_seed(5)  # replay the same draws: s0 indices, a0, a'
    s0 = data.initial_obs()[torch.randint(0, data.initial_obs().shape[0], (len(batch),))]
    a0 = agent.policy(s0).actions
    nxt = agent.policy(batch.next_obs)
    alpha, g = 2.0, agent.gamma
    total = 0.0
    for k in range(2):
        q0 = agent.critic(s0, a0)[k]
        qsa = agent.critic(batch.obs, batch.actions)[k]
        qn = agent.critic(batch.next_obs, nxt.actions)[k]
        ph = batch.rewards + g * (1 - batch.terminals) * (qn - agent.temperature() * nxt.log_prob) - qsa
        total = total + (1 - g) * q0.mean() + alpha * CONJUGATES[conj](ph / alpha).mean()
    torch.testing.assert_close(out["loss_critic"], total)


def test_critic_gradient_paths() -> None:
    """online: Q(s', a') carries gradient; target: it does not (the loss differs in its grads)."""
    _, _, agent, _, critic_on, inputs = _setup("convex_domain", "online")
    torch.manual_seed(1)
    critic_on.loss(inputs)["loss_critic"].backward()
    g_on = [p.grad.clone() for p in agent.critic.parameters()]
    assert all(p.grad is None for p in agent.target_critic.parameters())
    assert all(p.grad is None for p in agent.policy.parameters())
    agent.critic.zero_grad()
    critic_t = FdivDualCriticConfig(alpha=2.0, conjugate="convex_domain", bootstrap="target").build(
        make_ctx(data=make_data())
    )
    torch.manual_seed(1)
    critic_t.loss(inputs)["loss_critic"].backward()
    g_t = [p.grad.clone() for p in agent.critic.parameters()]
    assert any(not torch.allclose(a, b) for a, b in zip(g_on, g_t, strict=True))


def test_actor_gradient_reaches_only_the_policy() -> None:
    ctx, data, agent, batch, _, inputs = _setup()
    actor = FdivDualActorConfig(conjugate="convex_domain").build(ctx)
    out = actor.loss(inputs)
    assert set(out) >= {"loss_actor", "loss_alpha", "objective"}
    (out["loss_actor"] + out["loss_alpha"]).backward()
    assert all(p.grad is None for p in agent.critic.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.policy.parameters())
    assert actor.log_alpha.grad is not None
    assert float(actor.temperature()) == pytest.approx(0.2)


def test_actor_objective_with_fixed_alpha_is_eq2_at_alpha_one() -> None:
    """The objective reported equals (1-g) E Q(s0, pi) + E f*(Phi) with min-Q, by hand."""
    ctx, data, agent, batch, _, inputs = _setup()
    actor = FdivDualActorConfig(conjugate="convex_domain", auto_entropy=False).build(ctx)
    torch.manual_seed(3)
    out = actor.loss(inputs)
    torch.manual_seed(3)
    s0 = data.initial_obs()[torch.randint(0, data.initial_obs().shape[0], (len(batch),))]
    q0 = agent.critic(s0, agent.policy(s0).actions).min(0).values
    nxt = agent.policy(batch.next_obs)
    qn = agent.critic(batch.next_obs, nxt.actions).min(0).values
    qsa = agent.critic(batch.obs, batch.actions).min(0).values
    ph = batch.rewards + agent.gamma * (1 - batch.terminals) * (qn - 0.1 * nxt.log_prob) - qsa
    expected = (1 - agent.gamma) * q0.mean() + CONJUGATES["convex_domain"](ph).mean()
    torch.testing.assert_close(out["objective"], expected.detach())
    assert "loss_alpha" not in out
