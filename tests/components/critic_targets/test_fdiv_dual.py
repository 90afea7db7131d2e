"""DAMO's f-divergence dual: the conjugates against their definition, and the critic/actor losses."""

from __future__ import annotations

import pytest
import torch

from components._fdiv import (
    CONJUGATES,
    GENERATORS,
    conjugate,
    conjugate_argmax,
)
from components.actor_objectives.fdiv_dual import FdivDualActorConfig
from components.critic_targets.fdiv_dual import FdivDualCriticConfig
from compose.kinds import UpdateInputs
from tests.helpers.ampl_damo import make_agent, make_batch, make_ctx, make_data


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
    s0 = data.obs[torch.randint(0, data.obs.shape[0], (len(batch),))]  # mu0: dataset states
    a0 = agent.policy(s0).actions
    nxt = agent.policy(batch.next_obs)
    alpha, g = 2.0, agent.gamma
    total = 0.0
    for k in range(2):
        q0 = agent.critic(s0, a0)[k]
        qsa = agent.critic(batch.obs, batch.actions)[k]
        qn = agent.critic(batch.next_obs, nxt.actions)[k]
        ph = (
            batch.rewards
            + g * (1 - batch.terminals) * (qn - agent.temperature() * nxt.log_prob)
            - qsa
        )
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
    s0 = data.obs[torch.randint(0, data.obs.shape[0], (len(batch),))]  # mu0: dataset states
    q0 = agent.critic(s0, agent.policy(s0).actions).min(0).values
    nxt = agent.policy(batch.next_obs)
    qn = agent.critic(batch.next_obs, nxt.actions).min(0).values
    qsa = agent.critic(batch.obs, batch.actions).min(0).values
    ph = batch.rewards + agent.gamma * (1 - batch.terminals) * (qn - 0.1 * nxt.log_prob) - qsa
    expected = (1 - agent.gamma) * q0.mean() + CONJUGATES["convex_domain"](ph).mean()
    torch.testing.assert_close(out["objective"], expected.detach())
    assert "loss_alpha" not in out


# -- mu0 and the conjugate default (issue #14) ---------------------------------------------------


@pytest.mark.parametrize("config_cls", [FdivDualCriticConfig, FdivDualActorConfig])
def test_mu0_defaults_to_random_dataset_states_not_episode_starts(config_cls) -> None:  # noqa: ANN001
    """DAMO Sec. 7: s0 is a random dataset state; the episode starts stay an option."""
    data = make_data(n=400)  # an episode start every 50 rows: 8 of 400 states
    ctx = make_ctx(data=data)
    component = config_cls().build(ctx)
    assert config_cls().initial_states == "dataset_states"
    torch.manual_seed(0)
    s0 = component.initial.sample(2000, make_batch(4).obs)
    rows = (s0[:, None, :] == data.obs[None]).all(-1)  # [2000, 400]: which dataset row
    assert bool(rows.any(1).all())  # every s0 is a dataset state
    drawn = rows.any(0)
    assert int(drawn[~data.episode_starts].sum()) > 300  # mostly non-start states, spread out
    starts = config_cls(initial_states="episode_starts").build(ctx).initial.sample(500, s0)
    at_start = (starts[:, None, :] == data.obs[data.episode_starts][None]).all(-1).any(1)
    assert bool(at_start.all())
    fallback = make_batch(4).obs
    assert config_cls(initial_states="batch").build(ctx).initial.sample(4, fallback) is fallback


def test_conjugate_default_is_the_papers_printed_formula() -> None:
    """The printed f* produced Table 2: it is the default of both configs and of the recipe."""
    from compose.plugins import load_plugins
    from compose.recipe import load_recipe

    assert FdivDualCriticConfig().conjugate == "paper"
    assert FdivDualActorConfig().conjugate == "paper"
    for name in ("damo", "damo_vipo"):
        recipe = load_recipe(name, [], plugins=load_plugins()).recipe
        assert recipe.critic_target.conjugate == "paper"
        assert recipe.actor_objective.conjugate == "paper"
        assert (
            recipe.critic_target.initial_states
            == recipe.actor_objective.initial_states
            == "dataset_states"
        )
