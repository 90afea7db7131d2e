"""COMBO's conservative_q: sign and gradient direction of the penalty."""

from __future__ import annotations

import pytest
import torch

from components.aux_losses.conservative_q import ConservativeQConfig
from compose.kinds import UpdateInputs
from tests.helpers.ampl_damo import make_agent, make_batch, make_ctx


@pytest.mark.parametrize("variant", ["difference", "logsumexp"])
def test_descent_closes_the_gap_between_model_and_data_q(variant: str) -> None:
    torch.manual_seed(0)
    ctx = make_ctx()
    agent = make_agent(ctx)
    real, model = make_batch(64, seed=0), make_batch(64, seed=1)
    model = model.replace(obs=model.obs + 3.0)  # model states away from the data
    aux = ConservativeQConfig(variant=variant, weight=1.0, num_actions=4).build(ctx)
    inputs = UpdateInputs(step=0, real=real, model=model, agent=agent)
    out = aux.loss(inputs)
    assert float(out["loss_conservative"].detach()) == pytest.approx(
        2 * float(out["gap"]), rel=1e-5
    )
    with torch.no_grad():
        q_data0 = agent.critic(real.obs, real.actions).mean()
        q_model0 = agent.critic(model.obs, model.actions).mean()
    opt = torch.optim.SGD(agent.critic.parameters(), lr=1e-3)
    for _ in range(5):
        opt.zero_grad()
        aux.loss(inputs)["loss_conservative"].backward()
        opt.step()
    with torch.no_grad():
        q_data1 = agent.critic(real.obs, real.actions).mean()
        q_model1 = agent.critic(model.obs, model.actions).mean()
    # shared weights may move both, but the conservative gap must close
    assert q_model1 - q_data1 < q_model0 - q_data0
    assert all(p.grad is None for p in agent.policy.parameters())


def test_difference_gradient_is_minus_beta_over_n_on_data_rows() -> None:
    """d loss / d Q_k(s_i, a_i) = -beta / n for a data row; by a per-row check with autograd."""
    torch.manual_seed(0)
    ctx = make_ctx()
    agent = make_agent(ctx)
    real, model = make_batch(8, seed=0), make_batch(8, seed=1)
    aux = ConservativeQConfig(variant="difference", weight=2.5).build(ctx)
    calls: list[torch.Tensor] = []
    critic = agent.critic

    def recording(obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        q = critic(obs, act)
        q.retain_grad()
        calls.append(q)
        return q

    agent.critic = recording  # type: ignore[assignment]
    out = aux.loss(UpdateInputs(step=0, real=real, model=model, agent=agent))
    out["loss_conservative"].backward()
    q_data, q_model, q_pi = calls
    torch.testing.assert_close(q_data.grad, torch.full_like(q_data, -2.5 / 8))
    torch.testing.assert_close(q_model.grad, torch.full_like(q_model, 2.5 * 0.5 / 8))
    torch.testing.assert_close(q_pi.grad, torch.full_like(q_pi, 2.5 * 0.5 / 8))


def test_push_down_falls_back_to_model_rows_of_the_batch() -> None:
    from compose.kinds import Batch

    ctx = make_ctx()
    real, model = make_batch(4, seed=0), make_batch(6, seed=1)
    mixed = Batch.cat(real, model)
    got = (
        ConservativeQConfig()
        .build(ctx)
        .push_down_batch(UpdateInputs(step=0, real=real, batch=mixed))
    )
    torch.testing.assert_close(got.obs, model.obs)
