"""sac and penalized_sac critic targets: hand computation, model-row penalty, beta = 0."""

from __future__ import annotations

import pytest
import torch

from components.critic_targets.penalized_sac import PenalizedSacConfig
from components.critic_targets.sac import SacCriticTargetConfig
from components.uncertainty.bellman_inconsistency import BellmanInconsistencyConfig
from compose.kinds import Batch, UpdateInputs
from compose.registry import Registry
from tests.helpers.agent import critics_by_hand, make_agent, make_batch, make_ctx, make_dynamics


@pytest.fixture(scope="module")
def registry() -> Registry:
    """A registry holding the nested uncertainty, so penalized_sac's slot validates."""
    reg = Registry()
    for cfg in (BellmanInconsistencyConfig, SacCriticTargetConfig, PenalizedSacConfig):
        reg.add(cfg)
    reg.finalize()
    return reg


@pytest.mark.parametrize("backup_entropy", [True, False])
def test_sac_target_equals_hand_computation(backup_entropy: bool) -> None:
    torch.manual_seed(0)
    ctx = make_ctx()
    agent = make_agent(ctx, alpha=0.3, gamma=0.9)
    real, _, batch = make_batch(5, ctx)
    target = SacCriticTargetConfig(backup_entropy=backup_entropy).build(ctx)
    torch.manual_seed(11)
    out = target.loss(UpdateInputs(step=0, real=real, batch=batch, agent=agent))

    torch.manual_seed(11)
    with torch.no_grad():
        nxt = agent.policy(batch.next_obs)
        q1, q2 = critics_by_hand(agent.target_critic, batch.next_obs, nxt.actions)
        v = torch.minimum(q1, q2) - (0.3 * nxt.log_prob if backup_entropy else 0.0)
        y = batch.rewards + 0.9 * (1 - batch.terminals) * v
    c1, c2 = critics_by_hand(agent.critic, batch.obs, batch.actions)
    loss = ((c1 - y) ** 2).mean() + ((c2 - y) ** 2).mean()
    torch.testing.assert_close(out["loss_critic"], loss)
    torch.testing.assert_close(out["target_mean"], y.mean())
    torch.testing.assert_close(out["q_mean"], torch.stack([c1, c2]).mean().detach())
    assert bool((batch.terminals == 1).any())  # the (1 - done) factor is exercised


def test_sac_gradient_reaches_only_the_critic() -> None:
    torch.manual_seed(0)
    ctx = make_ctx()
    agent = make_agent(ctx)
    real, _, batch = make_batch(8, ctx)
    out = (
        SacCriticTargetConfig()
        .build(ctx)
        .loss(UpdateInputs(step=0, real=real, batch=batch, agent=agent))
    )
    out["loss_critic"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.critic.parameters())
    assert all(p.grad is None for p in agent.target_critic.parameters())
    assert all(p.grad is None for p in agent.policy.parameters())
    assert not out["target_mean"].requires_grad


def _penalized_setup(registry: Registry, beta: float, n_real: int = 3, n_model: int = 5):
    torch.manual_seed(0)
    ctx = make_ctx()
    ctx.dynamics = make_dynamics(ctx)
    agent = make_agent(ctx)
    real, model, batch = make_batch(n_real, ctx, n_model=n_model)
    with registry.active():
        cfg = PenalizedSacConfig.model_validate(
            {
                "type": "penalized_sac",
                "beta": beta,
                "uncertainty": {"type": "bellman_inconsistency", "samples": 3},
            }
        )
    return ctx, agent, real, model, batch, cfg.build(ctx)


def test_penalty_applies_only_to_model_rows(registry: Registry) -> None:
    ctx, agent, real, model, batch, pen = _penalized_setup(registry, beta=2.0)
    sac = SacCriticTargetConfig().build(ctx)
    inputs = UpdateInputs(step=0, real=real, model=model, batch=batch, agent=agent)
    torch.manual_seed(5)
    y_pen, diag = pen.target(inputs)
    torch.manual_seed(5)
    y_sac, _ = sac.target(inputs)
    # the penalty's own random draws come after the soft target's: reproduce them
    u = pen.uncertainty(model.obs, model.actions, dynamics=ctx.dynamics, agent=agent)
    diff = y_sac - y_pen
    assert torch.equal(diff[:3], torch.zeros(3))
    torch.testing.assert_close(diff[3:], 2.0 * u)
    assert bool((u > 0).all())
    torch.testing.assert_close(diag["penalty_mean"], 2.0 * u.mean())
    torch.testing.assert_close(diag["penalty_max"], 2.0 * u.max())


def test_penalty_finds_model_rows_in_any_layout(registry: Registry) -> None:
    ctx, agent, real, model, batch, pen = _penalized_setup(registry, beta=1.0)
    perm = torch.tensor([3, 0, 6, 1, 7, 4, 2, 5])
    shuffled = Batch(
        **{
            f: getattr(batch, f)[perm]
            for f in ("obs", "actions", "rewards", "next_obs", "terminals", "from_model")
        }
    )
    sac = SacCriticTargetConfig().build(ctx)
    inputs = UpdateInputs(step=0, real=shuffled, batch=shuffled, agent=agent)  # no .model
    torch.manual_seed(5)
    y_pen, _ = pen.target(inputs)
    torch.manual_seed(5)
    y_sac, _ = sac.target(inputs)
    rows = shuffled.from_model.nonzero().squeeze(-1)
    u = pen.uncertainty(
        shuffled.obs[rows], shuffled.actions[rows], dynamics=ctx.dynamics, agent=agent
    )
    expected = torch.zeros(8).index_copy(0, rows, u)
    torch.testing.assert_close(y_sac - y_pen, expected)


def test_beta_zero_equals_sac(registry: Registry) -> None:
    ctx, agent, real, model, batch, pen = _penalized_setup(registry, beta=0.0)
    inputs = UpdateInputs(step=0, real=real, model=model, batch=batch, agent=agent)
    torch.manual_seed(9)
    a = pen.loss(inputs)
    torch.manual_seed(9)
    b = SacCriticTargetConfig().build(ctx).loss(inputs)
    torch.testing.assert_close(a["loss_critic"], b["loss_critic"])
    torch.testing.assert_close(a["target_mean"], b["target_mean"])
    assert float(a["penalty_mean"]) == 0.0


def test_all_real_batch_has_no_penalty(registry: Registry) -> None:
    ctx, agent, real, _, _, pen = _penalized_setup(registry, beta=3.0)
    inputs = UpdateInputs(step=0, real=real, batch=real, agent=agent)
    torch.manual_seed(1)
    y_pen, diag = pen.target(inputs)
    torch.manual_seed(1)
    y_sac, _ = SacCriticTargetConfig().build(ctx).target(inputs)
    torch.testing.assert_close(y_pen, y_sac)
    assert float(diag["penalty_max"]) == 0.0


def test_default_uncertainty_and_beta_validation(registry: Registry) -> None:
    with registry.active():
        cfg = PenalizedSacConfig.model_validate({"type": "penalized_sac"})
        assert cfg.uncertainty.component_name() == "bellman_inconsistency"
        assert cfg.uncertainty.samples == 10
        with pytest.raises(ValueError, match="beta"):
            PenalizedSacConfig.model_validate({"type": "penalized_sac", "beta": -1.0})
