"""Reference tests for compose.nn: vectorized ensembles, tanh-Gaussian densities, target updates."""

from __future__ import annotations

import math

import pytest
import torch

from compose.nn import (
    MLP,
    EnsembleLinear,
    EnsembleMLP,
    scale_action,
    soft_update_,
    tanh_normal_log_prob,
    tanh_normal_sample,
    unscale_action,
)


def _loop_forward(mlp: EnsembleMLP, x: torch.Tensor) -> torch.Tensor:
    """The same ensemble as a per-member loop of plain matmuls (the reference)."""
    layers = mlp.linear_layers()
    outs = []
    for e in range(mlp.members):
        h = x[e]
        for i, layer in enumerate(layers):
            h = h @ layer.weight[e] + layer.bias[e, 0]
            if i < len(layers) - 1:
                h = torch.nn.functional.silu(h)
        outs.append(h)
    return torch.stack(outs)


def test_ensemble_mlp_matches_per_member_loop() -> None:
    torch.manual_seed(0)
    mlp = EnsembleMLP(5, 3, [16, 16], members=4, activation_name="swish")
    x = torch.randn(4, 7, 5)
    torch.testing.assert_close(mlp(x), _loop_forward(mlp, x))


def test_ensemble_mlp_broadcasts_2d_input() -> None:
    torch.manual_seed(0)
    mlp = EnsembleMLP(5, 3, [8], members=3)
    x = torch.randn(6, 5)
    y = mlp(x)
    assert y.shape == (3, 6, 3)
    torch.testing.assert_close(y, mlp(x.expand(3, 6, 5)))
    with pytest.raises(ValueError, match="expected input"):
        mlp(torch.randn(2, 6, 5))


def test_members_are_independently_initialized() -> None:
    torch.manual_seed(0)
    layer = EnsembleLinear(100, 50, members=3, weight_decay=1e-4)
    w = layer.weight.detach()
    assert not torch.allclose(w[0], w[1])
    std = 1 / (2 * math.sqrt(100))
    assert w.abs().max() <= 2 * std + 1e-6
    assert layer.decay_loss().item() == pytest.approx(1e-4 * 0.5 * w.pow(2).sum().item())


def test_spectral_norm_bounds_each_member() -> None:
    torch.manual_seed(0)
    mlp = EnsembleMLP(6, 2, [32, 32], members=3, spectral_norm=True)
    x = torch.randn(3, 4, 6)
    for _ in range(30):  # power iteration converges over forwards
        mlp(x)
    for layer in mlp.linear_layers()[:-1]:
        sigmas = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
        assert sigmas.shape == (3,)
        torch.testing.assert_close(sigmas, torch.ones(3), atol=2e-2, rtol=0)
    y = mlp(x).sum()
    y.backward()  # gradients flow through the parametrization
    assert mlp.linear_layers()[0].parametrizations.weight.original.grad is not None


def test_plain_mlp_shapes() -> None:
    mlp = MLP(4, 1, [8, 8])
    assert mlp(torch.randn(2, 3, 4)).shape == (2, 3, 1)


def test_tanh_normal_log_prob_matches_change_of_variables() -> None:
    torch.manual_seed(0)
    mean = torch.randn(64, 3)
    log_std = torch.randn(64, 3) * 0.3
    s = tanh_normal_sample(mean, log_std)
    base = torch.distributions.Normal(mean, log_std.exp()).log_prob(s.pre_tanh).sum(-1)
    naive = base - torch.log(1 - torch.tanh(s.pre_tanh.double()) ** 2).sum(-1).float()
    torch.testing.assert_close(s.log_prob, naive, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(
        tanh_normal_log_prob(s.action, mean, log_std), s.log_prob, atol=5e-3, rtol=1e-3
    )
    assert s.action.abs().max() < 1


def test_tanh_normal_density_integrates_to_one() -> None:
    # 1-D numerical integral of the squashed density over (-1, 1).
    a = torch.linspace(-1 + 1e-6, 1 - 1e-6, 200001, dtype=torch.float64).unsqueeze(-1)
    mean = torch.full_like(a, 0.4)
    log_std = torch.full_like(a, -0.2)
    p = tanh_normal_log_prob(a, mean, log_std, eps=1e-9).exp()
    assert torch.trapezoid(p, a.squeeze(-1)).item() == pytest.approx(1.0, abs=1e-3)


def test_tanh_normal_stable_when_saturated() -> None:
    s = tanh_normal_sample(torch.full((2, 2), 30.0), torch.zeros(2, 2), deterministic=True)
    assert torch.isfinite(s.log_prob).all()


def test_action_scaling_round_trip() -> None:
    low, high = torch.tensor([-2.0, 0.0]), torch.tensor([2.0, 1.0])
    a = torch.tensor([[-1.0, 1.0], [0.0, 0.0]])
    env_a = scale_action(a, low, high)
    torch.testing.assert_close(env_a, torch.tensor([[-2.0, 1.0], [0.0, 0.5]]))
    torch.testing.assert_close(unscale_action(env_a, low, high), a)


def test_soft_update() -> None:
    torch.manual_seed(0)
    src, tgt = MLP(3, 2, [4]), MLP(3, 2, [4])
    before = [p.detach().clone() for p in tgt.parameters()]
    soft_update_(tgt, src, 0.25)
    for b, t, s in zip(before, tgt.parameters(), src.parameters(), strict=True):
        torch.testing.assert_close(t.detach(), 0.75 * b + 0.25 * s.detach())
