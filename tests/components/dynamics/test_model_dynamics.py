"""gaussian_ensemble: vectorized forward vs a per-member loop, densities, sampling, elites."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from components.dynamics.gaussian_ensemble import GaussianEnsembleConfig
from tests.helpers.model import gaussian_ensemble, make_ctx


def _loop_predict(model, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The same ensemble as a per-member Python loop of plain matmuls (the reference)."""
    x = (torch.cat([obs, act], -1) - model.input_mean) / model.input_std
    trunk = model.trunk.linear_layers()
    means, logvars = [], []
    for e in range(model.members):
        h = x
        for layer in trunk:
            h = F.silu(h @ layer.weight[e] + layer.bias[e, 0])
        mu = h @ model.mean_head.weight[e] + model.mean_head.bias[e, 0]
        lv = h @ model.logvar_head.weight[e] + model.logvar_head.bias[e, 0]
        lv = model.max_logvar - F.softplus(model.max_logvar - lv)
        lv = model.min_logvar + F.softplus(lv - model.min_logvar)
        means.append(mu * model.target_std + model.target_mean)
        logvars.append(lv)
    return torch.stack(means), torch.stack(logvars)


def _fit_random_normalizer(model, obs_dim: int = 3, act_dim: int = 2) -> None:
    g = torch.Generator().manual_seed(1)
    model.fit_normalizer(
        3 * torch.randn(50, obs_dim, generator=g) + 1,
        torch.randn(50, act_dim, generator=g),
        5 * torch.randn(50, obs_dim + 1, generator=g) - 2,
    )


def test_vectorized_forward_matches_member_loop() -> None:
    torch.manual_seed(0)
    model = gaussian_ensemble(make_ctx())
    _fit_random_normalizer(model)
    obs, act = torch.randn(9, 3), torch.randn(9, 2)
    pred = model.predict(obs, act)
    mean, logvar = _loop_predict(model, obs, act)
    assert pred.mean.shape == (4, 9, 4) and pred.logvar.shape == (4, 9, 4)
    torch.testing.assert_close(pred.mean, mean)
    torch.testing.assert_close(pred.logvar, logvar)
    torch.testing.assert_close(pred.std, torch.exp(0.5 * logvar) * model.target_std)
    # Per-member batches [E, B, .] equal the shared batch when every member gets the same rows.
    pred_e = model.predict(obs.expand(4, 9, 3), act.expand(4, 9, 2))
    torch.testing.assert_close(pred_e.mean, pred.mean)


def test_log_prob_equals_torch_normal() -> None:
    torch.manual_seed(0)
    model = gaussian_ensemble(make_ctx())
    _fit_random_normalizer(model)
    obs, act = torch.randn(6, 3), torch.randn(6, 2)
    next_obs, rew = obs + torch.randn(6, 3), torch.randn(6)
    lp = model.log_prob(obs, act, next_obs, rew)
    pred = model.predict(obs, act)
    target = torch.cat([next_obs - obs, rew[:, None]], -1)
    ref = torch.distributions.Normal(pred.mean, pred.std).log_prob(target).sum(-1)
    assert lp.shape == (4, 6)
    torch.testing.assert_close(lp, ref)
    lp.sum().backward()
    assert model.mean_head.weight.grad is not None and model.mean_head.weight.grad.abs().sum() > 0


def test_sample_deterministic_returns_elite_means_and_termination() -> None:
    torch.manual_seed(0)

    def done(obs: torch.Tensor, act: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        return nxt[:, 0] > 0

    model = gaussian_ensemble(make_ctx(termination=done))
    _fit_random_normalizer(model)
    model.set_elites(torch.tensor([3, 1]))
    assert model.elites.tolist() == [1, 3]
    obs, act = torch.randn(200, 3), torch.randn(200, 2)
    out = model.sample(obs, act, deterministic=True)
    assert set(out.member.tolist()) == {1, 3}
    rows = torch.arange(200)
    mean = out.prediction.mean[out.member, rows]
    torch.testing.assert_close(out.next_obs, obs + mean[:, :3])
    torch.testing.assert_close(out.rewards, mean[:, 3])
    assert out.terminals.dtype == torch.bool
    assert torch.equal(out.terminals, out.next_obs[:, 0] > 0)
    assert out.prediction.members == 4
    # Stochastic samples differ from the means and are reproducible under a seed.
    torch.manual_seed(5)
    a = model.sample(obs, act)
    torch.manual_seed(5)
    b = model.sample(obs, act)
    torch.testing.assert_close(a.next_obs, b.next_obs)
    assert not torch.allclose(a.next_obs, obs + a.prediction.mean[a.member, rows][:, :3])


def test_regularization_weight_decay_and_logvar_bounds() -> None:
    model = gaussian_ensemble(make_ctx(), weight_decay=[1e-3, 2e-3, 3e-3])
    layers = model.linear_layers()
    decays = [1e-3, 2e-3, 3e-3, 3e-3]
    expected = sum(
        d * 0.5 * layer.weight.pow(2).sum() for d, layer in zip(decays, layers, strict=True)
    )
    expected = expected + 0.01 * (model.max_logvar.sum() - model.min_logvar.sum())
    torch.testing.assert_close(model.regularization(), expected)


def test_logvar_is_bounded_and_normalizer_is_checkpointed() -> None:
    torch.manual_seed(0)
    model = gaussian_ensemble(make_ctx())
    with torch.no_grad():
        model.logvar_head.bias.fill_(100.0)
    _, logvar = model.forward_normalized(torch.randn(5, 3), torch.randn(5, 2))
    # The soft bounds overshoot by softplus tails (< 1e-4 at the default -10 .. 0.5 gap).
    assert (logvar <= model.max_logvar + 1e-4).all() and (logvar >= model.min_logvar - 1e-4).all()
    _fit_random_normalizer(model)
    model.set_elites(torch.tensor([0, 2]))
    clone = gaussian_ensemble(make_ctx())
    clone.load_state_dict(model.state_dict())
    torch.testing.assert_close(clone.input_mean, model.input_mean)
    torch.testing.assert_close(clone.target_std, model.target_std)
    assert clone.elites.tolist() == [0, 2]


def test_spectral_norm_bounds_mean_path_only() -> None:
    torch.manual_seed(0)
    model = gaussian_ensemble(make_ctx(), spectral_norm=True)
    for _ in range(50):  # power iteration converges over training forwards
        model.predict(torch.randn(4, 3), torch.randn(4, 2))
    model.eval()
    for layer in [*model.trunk.linear_layers(), model.mean_head]:
        sigma = torch.linalg.matrix_norm(layer.weight, ord=2)
        assert (sigma < 1.0 + 1e-3).all()
    assert not hasattr(model.logvar_head, "parametrizations")


def test_known_reward_when_not_learned() -> None:
    def reward_fn(obs: torch.Tensor, act: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        return nxt.sum(-1)

    model = gaussian_ensemble(make_ctx(reward=reward_fn), learn_reward=False)
    obs, act = torch.randn(5, 3), torch.randn(5, 2)
    pred = model.predict(obs, act)
    assert pred.mean.shape == (4, 5, 4) and pred.logvar.shape == (4, 5, 3)
    out = model.sample(obs, act)
    torch.testing.assert_close(out.rewards, out.next_obs.sum(-1))


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="elites"):
        GaussianEnsembleConfig(members=3, elites=5)
    with pytest.raises(ValidationError, match="weight_decay"):
        GaussianEnsembleConfig(hidden=[8, 8], weight_decay=[0.0])
    cfg = GaussianEnsembleConfig(members=3, elites=2, hidden=[8], weight_decay=[0.0, 1e-4])
    assert GaussianEnsembleConfig.model_validate(cfg.model_dump()) == cfg
    assert cfg.component_name() == "gaussian_ensemble"
    assert math.isclose(GaussianEnsembleConfig().weight_decay[-1], 1e-4)


def test_unlearned_reward_without_known_reward_is_an_error() -> None:
    """Before: the reward column was silently zero (the agent trained on r = 0)."""
    with pytest.raises(ValueError, match="dynamics.learn_reward: false.*hopper \\(Hopper-v5\\)"):
        gaussian_ensemble(make_ctx(), learn_reward=False)
