"""VIPO ``value_inconsistency``: Eq. 11 by hand, the sign of the update, V_d on a known chain."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from components.aux_losses.value_inconsistency import ValueInconsistencyConfig
from compose.kinds import Batch, UpdateInputs
from tests.helpers.vipo import fit_normalizer, linear_batch, make_ctx, tiny_ensemble

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def float64() -> Iterator[None]:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _falls(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """A termination rule that fires for part of the samples (exercises the bootstrap mask)."""
    return next_obs[..., 0] > 0.5


def _reward_fn(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return next_obs.sum(-1) - act.pow(2).sum(-1)


def _setup(learn_reward: bool, baseline: str, weight: float = 0.7) -> tuple[Any, Any, Batch]:
    ctx = make_ctx(termination=_falls, reward=None if learn_reward else _reward_fn, seed=3)
    torch.manual_seed(0)
    dynamics = tiny_ensemble(ctx, learn_reward=learn_reward)
    batch = linear_batch(5)
    if not learn_reward:
        batch = batch.replace(rewards=_reward_fn(batch.obs, batch.actions, batch.next_obs))
    fit_normalizer(dynamics, batch)
    config = ValueInconsistencyConfig(
        weight=weight, samples=2, hidden=[16], baseline=baseline, lr=1e-2, tau=0.5
    )
    aux = config.build(ctx)
    inputs = UpdateInputs(step=0, real=batch, dynamics=dynamics)
    for _ in range(5):  # move V_d and V_m (and their targets) away from each other
        aux.update(inputs)
    return aux, dynamics, batch


def _hand_eq11(
    aux: Any, dynamics: Any, batch: Batch, params: list[torch.Tensor]
) -> list[torch.Tensor]:
    """-2 lambda mean_{k,b} sum_e (Vbar_d(s)-Vbar_m(s)) (r + gamma Vbar_m(s')) grad log P_e.

    One ``dynamics.log_prob`` and one ``torch.autograd.grad`` per sample (the reference).
    """
    cfg = aux.config
    samples = aux.model_samples(dynamics, batch.obs, batch.actions)
    k_n, e_n, b_n = samples.rewards.shape

    def vbar(s: torch.Tensor, which: int) -> torch.Tensor:
        x = ((s - aux.obs_mean) / aux.obs_std).reshape(1, -1)
        return aux.target_values(x)[which, 0, 0]

    total = [torch.zeros_like(p) for p in params]
    dynamics.eval()  # no spectral-norm iteration in the reference either
    for k in range(k_n):
        for e in range(e_n):
            for b in range(b_n):
                s, a = batch.obs[b : b + 1], batch.actions[b : b + 1]
                s2 = samples.next_obs[k, e, b : b + 1]
                r = samples.rewards[k, e, b : b + 1]
                done = _falls(s, a, s2).double()[0]
                with torch.no_grad():
                    q = r[0] + aux.gamma * (1 - done) * vbar(s2[0], 1)
                    if cfg.baseline == "model_value":
                        q = q - vbar(s[0], 1)
                    coef = (vbar(s[0], 0) - vbar(s[0], 1)) * q
                logp = dynamics.log_prob(s, a, s2, r)[e, 0]
                grads = torch.autograd.grad(logp, params, allow_unused=True)
                for t, g in zip(total, grads, strict=True):
                    if g is not None:
                        t.add_(-2.0 * cfg.weight * coef * g / (k_n * b_n))
    dynamics.train()
    return total


@pytest.mark.parametrize(
    ("learn_reward", "baseline"), [(True, "none"), (False, "none"), (True, "model_value")]
)
def test_surrogate_gradient_equals_eq11_by_hand(
    float64: None, learn_reward: bool, baseline: str
) -> None:
    aux, dynamics, batch = _setup(learn_reward, baseline)
    params = [p for p in dynamics.parameters() if p.requires_grad]
    inputs = UpdateInputs(step=0, real=batch, dynamics=dynamics)
    aux.update(inputs)  # the learner's order: update, then loss on the same inputs
    state = aux.generator.get_state()
    terms = aux.loss(inputs)
    auto = torch.autograd.grad(terms["loss_value_inconsistency"], params, allow_unused=True)
    aux.generator.set_state(state)  # the reference sees the very same draws
    hand = _hand_eq11(aux, dynamics, batch, params)
    assert terms["inconsistency"] > 1e-3  # the value factors are not trivially zero
    nonzero = 0
    for a, h in zip(auto, hand, strict=True):
        a = torch.zeros_like(h) if a is None else a
        torch.testing.assert_close(a, h, rtol=1e-7, atol=1e-10)
        nonzero += int(h.abs().sum() > 0)
    assert nonzero >= 4


@pytest.mark.parametrize("gap", [10.0, -10.0])
def test_descent_moves_model_value_towards_data_value(gap: float) -> None:
    """Vbar_d - Vbar_m = gap > 0 must raise the predicted reward (so V_m rises), < 0 lower it."""
    ctx = make_ctx(obs_dim=2, act_dim=1, gamma=0.9, seed=1)
    torch.manual_seed(0)
    dynamics = tiny_ensemble(ctx)
    batch = linear_batch(32, obs_dim=2, act_dim=1)
    fit_normalizer(dynamics, batch)
    aux = ValueInconsistencyConfig(weight=1.0, samples=64, hidden=[8]).build(ctx)
    with torch.no_grad():  # Vbar_d = gap, Vbar_m = 0 everywhere
        last = aux.target_values.linear_layers()[-1]
        last.weight.zero_()
        last.bias.zero_()
        last.bias[0] = gap
    inputs = UpdateInputs(step=0, real=batch, dynamics=dynamics)
    reward_mean = dynamics.predict(batch.obs, batch.actions).mean[..., -1].mean()
    opt = torch.optim.SGD(dynamics.parameters(), lr=1e-3)
    opt.zero_grad()
    aux.loss(inputs)["loss_value_inconsistency"].backward()
    opt.step()
    moved = dynamics.predict(batch.obs, batch.actions).mean[..., -1].mean() - reward_mean
    assert moved * gap > 0


def test_v_d_converges_to_the_chain_value() -> None:
    """Chain 0 -> 1 -> 2 -> 3 -> end, reward 1 per step: V(s) = sum_{t < 4 - s} gamma^t."""
    torch.manual_seed(0)
    gamma = 0.9
    ctx = make_ctx(obs_dim=1, act_dim=1, gamma=gamma, seed=0)
    dynamics = tiny_ensemble(ctx)
    s = torch.arange(4.0).unsqueeze(-1)
    batch = Batch(
        obs=s,
        actions=torch.zeros(4, 1),
        rewards=torch.ones(4),
        next_obs=s + 1,
        terminals=torch.tensor([0.0, 0.0, 0.0, 1.0]),
    )
    aux = ValueInconsistencyConfig(weight=0.5, hidden=[32], lr=1e-2, tau=0.2).build(ctx)
    inputs = UpdateInputs(step=0, real=batch, dynamics=dynamics)
    for _ in range(300):
        terms = aux.update(inputs)
    truth = torch.tensor([sum(gamma**t for t in range(4 - i)) for i in range(4)])
    with torch.no_grad():
        v_d = aux.values((s - aux.obs_mean) / aux.obs_std)[0, :, 0]
    torch.testing.assert_close(v_d, truth, rtol=0.0, atol=0.01)
    assert terms["v_d_loss"] < 1e-4


def test_update_and_loss_leave_the_global_rng_and_model_alone() -> None:
    ctx = make_ctx(seed=5)
    dynamics = tiny_ensemble(ctx, spectral_norm=True)
    batch = linear_batch(8)
    fit_normalizer(dynamics, batch)
    aux = ValueInconsistencyConfig(weight=0.0).build(ctx)
    before = {k: v.clone() for k, v in dynamics.state_dict().items()}
    rng = torch.get_rng_state()
    inputs = UpdateInputs(step=0, real=batch, dynamics=dynamics)
    aux.update(inputs)
    terms = aux.loss(inputs)
    assert torch.equal(torch.get_rng_state(), rng)
    assert dynamics.training
    for k, v in dynamics.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert set(terms) >= {"loss_value_inconsistency", "inconsistency", "v_d_loss", "v_m_loss"}
    assert all(torch.isfinite(v).all() for v in terms.values())


def test_checkpoint_resumes_the_same_draws() -> None:
    ctx = make_ctx(seed=2)
    dynamics = tiny_ensemble(ctx)
    batch = linear_batch(8)
    fit_normalizer(dynamics, batch)
    config = ValueInconsistencyConfig(weight=0.5, hidden=[8])
    aux = config.build(ctx)
    inputs = UpdateInputs(step=0, real=batch, dynamics=dynamics)
    aux.update(inputs)
    state = aux.checkpoint_state()
    other = config.build(make_ctx(seed=99))
    other.load_checkpoint_state(state)
    fresh = UpdateInputs(step=1, real=batch, dynamics=dynamics)  # not update()'s: new draws
    a = aux.loss(fresh)["loss_value_inconsistency"]
    b = other.loss(fresh)["loss_value_inconsistency"]
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    # The loaded input normalization is kept, not refit on the next (different) batch.
    other.update(UpdateInputs(step=2, real=linear_batch(8, seed=7), dynamics=dynamics))
    torch.testing.assert_close(other.obs_mean, aux.obs_mean, rtol=0, atol=0)


def test_config_validates_and_imports_without_torch() -> None:
    with pytest.raises(ValidationError):
        ValueInconsistencyConfig(weight=-0.1)
    with pytest.raises(ValidationError):
        ValueInconsistencyConfig(behavior_actions="bc_policy")  # type: ignore[arg-type]
    assert ValueInconsistencyConfig.attaches_to == ("model",)
    code = (
        "import sys; import components.aux_losses.value_inconsistency as m; "
        "m.ValueInconsistencyConfig(weight=0.45, samples=2); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def _pretrain(aux_losses: list[dict[str, Any]], spectral_norm: bool) -> dict[str, torch.Tensor]:
    """Run the ``mle`` learner for a few updates from seed 0; return the dynamics' state."""
    MLEConfig = pytest.importorskip("components.model_learners.mle").MLEConfig  # noqa: N806
    from compose.plugins import load_plugins

    with load_plugins().registry.active():
        config = MLEConfig(
            holdout=40, batch_size=32, max_updates=12, patience=100, aux_losses=aux_losses
        )
    ctx = make_ctx(termination=_falls, seed=0)
    torch.manual_seed(0)
    dynamics = tiny_ensemble(ctx, spectral_norm=spectral_norm)
    learner = config.build(ctx)
    learner.pretrain(dynamics, linear_batch(200), lambda metrics, step: None)
    return {k: v.clone() for k, v in dynamics.state_dict().items()}


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_weight_zero_is_exactly_the_mle_update(spectral_norm: bool) -> None:
    plain = _pretrain([], spectral_norm)
    vipo0 = _pretrain(
        [{"type": "value_inconsistency", "weight": 0.0, "hidden": [8]}], spectral_norm
    )
    vipo = _pretrain([{"type": "value_inconsistency", "weight": 0.5, "hidden": [8]}], spectral_norm)
    assert plain.keys() == vipo0.keys()
    for key in plain:
        assert torch.equal(plain[key], vipo0[key]), key
    assert any(not torch.equal(plain[k], vipo[k]) for k in plain)  # the term does act
