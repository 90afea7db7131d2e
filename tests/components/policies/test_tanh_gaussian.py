"""tanh_gaussian policy: bounds, densities (numerical check), determinism, clamping."""

from __future__ import annotations

import torch

from components.policies.tanh_gaussian import TanhGaussianConfig
from tests.helpers.agent import make_ctx


def _policy(low: list[float], high: list[float], obs_dim: int = 3, **kw: object):
    ctx = make_ctx(obs_dim, len(low), torch.tensor(low), torch.tensor(high))
    return TanhGaussianConfig(hidden=[16, 16], **kw).build(ctx)


def test_actions_stay_within_asymmetric_bounds() -> None:
    torch.manual_seed(0)
    policy = _policy([-2.0, 0.0], [1.0, 3.0])
    obs = 50.0 * torch.randn(2000, 3)  # large inputs push tanh to saturation
    for det in (False, True):
        a = policy(obs, deterministic=det).actions
        assert a.shape == (2000, 2)
        assert bool((a >= torch.tensor([-2.0, 0.0])).all() & (a <= torch.tensor([1.0, 3.0])).all())
    assert torch.isfinite(policy(obs).log_prob).all()


def _analytic_log_density(a, mean, log_std, low, high):
    """log p(a) by change of variables, independent of compose.nn: a = c + h tanh(u)."""
    c, h = (high + low) / 2, (high - low) / 2
    y = (a - c) / h
    u = torch.atanh(y)
    normal = torch.distributions.Normal(mean, log_std.exp())
    return (normal.log_prob(u) - torch.log(h * (1 - y.pow(2)))).sum(-1)


def test_log_prob_matches_change_of_variables() -> None:
    torch.manual_seed(1)
    low, high = torch.tensor([-2.0, 0.0]), torch.tensor([1.0, 3.0])
    policy = _policy(low.tolist(), high.tolist()).double()
    obs = torch.randn(64, 3, dtype=torch.float64)
    s = policy(obs)
    mean, log_std = policy.dist_params(obs)
    ref = _analytic_log_density(s.actions, mean, log_std, low.double(), high.double())
    torch.testing.assert_close(s.log_prob, ref, rtol=1e-6, atol=1e-6)


def test_log_prob_is_the_derivative_of_the_cdf() -> None:
    """Numerical density check: exp(log pi(a)) == dF/da by central differences, and F fits samples."""
    torch.manual_seed(2)
    low, high = torch.tensor([-0.5], dtype=torch.float64), torch.tensor([1.5], dtype=torch.float64)
    policy = _policy([-0.5], [1.5]).double()
    obs = torch.randn(1, 3, dtype=torch.float64).expand(20_000, 3)
    with torch.no_grad():
        s = policy(obs)
        mean, log_std = policy.dist_params(obs[:1])
    normal = torch.distributions.Normal(mean[0, 0], log_std.exp()[0, 0])

    def cdf(a: torch.Tensor) -> torch.Tensor:  # P(A <= a) for A = c + h tanh(U), U ~ normal
        y = ((a - (high + low) / 2) / ((high - low) / 2)).clamp(-1 + 1e-15, 1 - 1e-15)
        return normal.cdf(torch.atanh(y))

    a = s.actions[:200, 0]
    eps = 1e-6
    numeric = (cdf(a + eps) - cdf(a - eps)) / (2 * eps)
    torch.testing.assert_close(s.log_prob[:200].exp(), numeric, rtol=1e-4, atol=1e-6)
    # the samples follow that distribution (Kolmogorov-Smirnov distance)
    sorted_a = s.actions[:, 0].sort().values
    empirical = torch.arange(1, 20_001, dtype=torch.float64) / 20_000
    assert float((cdf(sorted_a) - empirical).abs().max()) < 0.015


def test_deterministic_is_scaled_tanh_of_mean() -> None:
    torch.manual_seed(3)
    policy = _policy([-2.0, 0.0], [1.0, 3.0])
    obs = torch.randn(10, 3)
    mean, _ = policy.dist_params(obs)
    expected = torch.tensor([-0.5, 1.5]) + torch.tensor([1.5, 1.5]) * torch.tanh(mean)
    torch.testing.assert_close(policy(obs, deterministic=True).actions, expected)
    torch.testing.assert_close(policy.act(obs), expected)


def test_sampling_is_reparameterized() -> None:
    torch.manual_seed(4)
    policy = _policy([-1.0], [1.0])
    policy(torch.randn(8, 3)).actions.sum().backward()
    grads = [p.grad for p in policy.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_log_std_is_clamped() -> None:
    policy = _policy([-1.0, -1.0], [1.0, 1.0], log_std_min=-3.0, log_std_max=1.0)
    last = policy.trunk.body.linear_layers()[-1]
    with torch.no_grad():
        last.bias[0, 0, 2:] = 100.0
    _, log_std = policy.dist_params(torch.zeros(4, 3))
    assert torch.equal(log_std, torch.full((4, 2), 1.0))
    with torch.no_grad():
        last.bias[0, 0, 2:] = -100.0
    _, log_std = policy.dist_params(torch.zeros(4, 3))
    assert torch.equal(log_std, torch.full((4, 2), -3.0))


def test_many_leading_dims() -> None:
    torch.manual_seed(5)
    policy = _policy([-1.0, -1.0], [1.0, 1.0])
    s = policy(torch.randn(4, 3, 5, 3))
    assert s.actions.shape == (4, 3, 5, 2) and s.log_prob.shape == (4, 3, 5)
    assert bool(torch.isfinite(s.log_prob).all())


def test_log_prob_of_given_actions_matches_sampled_density() -> None:
    """log_prob(obs, a) of the policy's own samples equals the density forward() returned."""
    torch.manual_seed(3)
    policy = _policy([-2.0, 0.0], [1.0, 3.0]).double()
    obs = torch.randn(128, 3, dtype=torch.float64)
    sample = policy(obs)
    given = policy.log_prob(obs, sample.actions)
    assert torch.allclose(given, sample.log_prob, atol=1e-6)
    boundary = torch.tensor([[-2.0, 3.0]], dtype=torch.float64).expand(128, 2)
    assert torch.isfinite(policy.log_prob(obs, boundary)).all()
