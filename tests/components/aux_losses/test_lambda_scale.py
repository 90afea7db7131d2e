"""VIPO's lambda on the paper's scale: the ``mle`` step's gradient is Eq. 8's, by hand.

VIPO Eq. 7-8: L_aug = L_ori + lambda L_vic with L_ori = -E log P_theta(s', r | s, a), the
log-density summed over the output dims. The ``mle`` step's loss is (c / D) (L_ori + lambda
L_vic) + R (c = 2E under ``loss_scale: mbpo``), so its gradient must be
(c / D) (grad L_ori + lambda * Eq. 11) + grad R, with L_ori and Eq. 11 computed here directly
(``dynamics.log_prob`` per member and per draw). Before issue #14 the VIPO term was D / 2
times too large (``aux_loss_scale: as_returned`` keeps that reading).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from test_value_inconsistency import _falls, _hand_eq11

from components.model_learners._mle import MLEStep, _epoch_means
from components.model_learners.mle import MLEConfig
from compose.kinds import UpdateInputs
from compose.plugins import load_plugins
from tests.helpers.vipo import fit_normalizer, linear_batch, make_ctx, tiny_ensemble

pytestmark = pytest.mark.usefixtures("one_thread")

WEIGHT = 0.7
VIC = {
    "type": "value_inconsistency",
    "weight": WEIGHT,
    "samples": 2,
    "hidden": [16],
    "lr": 1e-2,
    "tau": 0.5,
}


@pytest.fixture
def float64() -> Any:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _one_step(loss_scale: str, aux_loss_scale: str) -> dict[str, Any]:
    """One ``MLEStep`` (SGD, lr 0: the model stays put) and the pieces of its gradient by hand."""
    with load_plugins().registry.active():
        config = MLEConfig(
            loss_scale=loss_scale,
            aux_loss_scale=aux_loss_scale,
            grad_ratio_every=1,
            aux_losses=[VIC],
        )
    ctx = make_ctx(termination=_falls, seed=3)
    torch.manual_seed(0)
    dynamics = tiny_ensemble(ctx)  # 3 members, learned reward: D = obs_dim + 1 = 4
    data = linear_batch(40)
    fit_normalizer(dynamics, data)
    learner = config.build(ctx)
    (aux,) = learner.aux_losses
    for _ in range(5):  # move V_d and V_m (and their targets) apart: a non-trivial Eq. 11
        aux.update(UpdateInputs(step=0, real=data, dynamics=dynamics))
    params = [p for p in dynamics.parameters() if p.requires_grad]
    columns = (data.obs, data.actions, data.next_obs, data.rewards, data.terminals)
    step = MLEStep(learner, dynamics, columns, torch.optim.SGD(params, lr=0.0))
    idx = torch.randint(40, (dynamics.members, 8), generator=torch.Generator().manual_seed(1))

    states: list[torch.Tensor] = []
    loss = aux.loss

    def spy(inputs: UpdateInputs) -> dict[str, torch.Tensor]:
        states.append(aux.generator.get_state())  # the draws loss() makes
        return loss(inputs)

    aux.loss = spy  # type: ignore[method-assign]
    out = step.step(idx)
    total = [p.grad.clone() for p in params]

    # By hand: L_ori = -mean_{e,b} log P_e on member e's rows, Eq. 11 on member 0's rows.
    log_p = dynamics.log_prob(
        data.obs[idx], data.actions[idx], data.next_obs[idx], data.rewards[idx]
    )
    g_ori = torch.autograd.grad(-log_p.mean(), params)
    g_reg = torch.autograd.grad(dynamics.regularization(), params, allow_unused=True)
    aux.generator.set_state(states[0])
    rows = idx[0]
    batch = data.replace(
        obs=data.obs[rows],
        actions=data.actions[rows],
        rewards=data.rewards[rows],
        next_obs=data.next_obs[rows],
        terminals=data.terminals[rows],
    )
    # _hand_eq11 sums over members; Eq. 8's L_vic is their mean, like L_ori.
    eq11 = [g / dynamics.members / WEIGHT for g in _hand_eq11(aux, dynamics, batch, params)]
    return {
        "total": total,
        "g_ori": g_ori,
        "g_reg": [
            torch.zeros_like(p) if g is None else g for p, g in zip(params, g_reg, strict=True)
        ],
        "eq11": eq11,
        "c": (2.0 * dynamics.members if loss_scale == "mbpo" else 1.0) / 4,  # c / D
        "dims": 4,
        "out": out,
    }


def _close(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.allclose(x, y, rtol=1e-7, atol=1e-10) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("loss_scale", ["mbpo", "mean"])
def test_step_gradient_is_l_ori_plus_lambda_eq11(float64: None, loss_scale: str) -> None:
    r = _one_step(loss_scale, "log_density")
    c = float(r["c"])
    expected = [
        c * (o + WEIGHT * v) + g for o, v, g in zip(r["g_ori"], r["eq11"], r["g_reg"], strict=True)
    ]
    assert sum(float(v.abs().sum()) for v in r["eq11"]) > 1e-6  # Eq. 11 is not trivially zero
    for got, want in zip(r["total"], expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-10)
    # The logged ratio is ||grad lambda L_vic|| / ||grad L_ori|| (the factor c / D cancels).
    norm = lambda gs: torch.linalg.vector_norm(torch.stack([g.norm() for g in gs]))  # noqa: E731
    ratio = norm([WEIGHT * v for v in r["eq11"]]) / norm(r["g_ori"])
    torch.testing.assert_close(r["out"]["aux_losses.0.grad_ratio"], ratio, rtol=1e-7, atol=0.0)
    assert float(ratio) > 0


def test_old_scale_is_d_over_2_times_lambda(float64: None) -> None:
    """``as_returned`` (the scale before #14) weighs the VIPO term D / 2 times more than Eq. 8."""
    r = _one_step("mbpo", "as_returned")
    c, d = float(r["c"]), r["dims"]
    paper = [
        c * (o + WEIGHT * v) + g for o, v, g in zip(r["g_ori"], r["eq11"], r["g_reg"], strict=True)
    ]
    old = [
        c * (o + d / 2 * WEIGHT * v) + g
        for o, v, g in zip(r["g_ori"], r["eq11"], r["g_reg"], strict=True)
    ]
    assert not _close(r["total"], paper)
    for got, want in zip(r["total"], old, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-10)


def test_epoch_means_divide_by_the_steps_that_reported() -> None:
    """grad_ratio is logged every k-th step: its epoch mean is over those steps only."""
    sums = {"nll": torch.tensor(6.0), "aux_losses.0.grad_ratio": torch.tensor(0.5)}
    assert _epoch_means(sums, {"nll": 3, "aux_losses.0.grad_ratio": 1}) == {
        "nll": 2.0,
        "aux_losses.0.grad_ratio": 0.5,
    }


def test_pretrain_logs_the_grad_ratio_under_the_aux_keys() -> None:
    with load_plugins().registry.active():
        config = MLEConfig(
            holdout=40,
            batch_size=32,
            max_epochs=2,
            patience=100,
            grad_ratio_every=2,
            aux_losses=[{**VIC, "weight": 0.45}],
        )
        plain = MLEConfig(holdout=40, batch_size=32, max_epochs=2, patience=100)
    rows: list[dict[str, float]] = []
    for cfg in (config, plain):
        ctx = make_ctx(termination=_falls, seed=0)
        torch.manual_seed(0)
        dynamics = tiny_ensemble(ctx)
        cfg.build(ctx).pretrain(dynamics, linear_batch(200), lambda m, step: rows.append(m))
    vipo, mle = rows[:2], rows[2:]
    assert all(0.0 < m["aux_losses.0.grad_ratio"] < float("inf") for m in vipo)
    assert all(not any(k.endswith("grad_ratio") for k in m) for m in mle)
