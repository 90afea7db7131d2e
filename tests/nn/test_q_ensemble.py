"""QEnsemble: K critics in one vectorized module == a per-critic loop."""

from __future__ import annotations

import pytest
import torch

from compose.nn.q_ensemble import QEnsemble


def per_critic_loop(q: QEnsemble, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    """Reference: every critic as its own plain MLP, one after the other."""
    layers = q.net.linear_layers()
    x = torch.cat([obs, act], -1)
    outs = []
    for k in range(q.num_critics):
        h = x
        for i, layer in enumerate(layers):
            h = h @ layer.weight[k] + layer.bias[k, 0]
            if i < len(layers) - 1:
                h = torch.relu(h)
        outs.append(h.squeeze(-1))
    return torch.stack(outs)


def test_matches_per_critic_loop() -> None:
    torch.manual_seed(0)
    q = QEnsemble(5, 2, hidden=[16, 8], num_critics=3)
    obs, act = torch.randn(7, 5), torch.randn(7, 2)
    out = q(obs, act)
    assert out.shape == (3, 7)
    torch.testing.assert_close(out, per_critic_loop(q, obs, act))
    assert not torch.allclose(out[0], out[1])  # independently initialized critics


def test_leading_dims_are_flattened_and_restored() -> None:
    torch.manual_seed(0)
    q = QEnsemble(4, 3, hidden=[8, 8], num_critics=2)
    obs, act = torch.randn(5, 6, 7, 4), torch.randn(5, 6, 7, 3)
    out = q(obs, act)
    assert out.shape == (2, 5, 6, 7)
    flat = per_critic_loop(q, obs.reshape(-1, 4), act.reshape(-1, 3))
    torch.testing.assert_close(out, flat.reshape(2, 5, 6, 7))


def test_gradients_reach_every_critic() -> None:
    torch.manual_seed(0)
    q = QEnsemble(3, 1, hidden=[8], num_critics=2)
    q(torch.randn(4, 3), torch.randn(4, 1))[1].sum().backward()
    w = q.net.linear_layers()[0].weight.grad
    assert w is not None and w[0].abs().sum() == 0 and w[1].abs().sum() > 0


def test_bad_shapes_are_rejected() -> None:
    q = QEnsemble(3, 1, hidden=[8])
    with pytest.raises(ValueError, match="leading dims"):
        q(torch.randn(4, 3), torch.randn(5, 1))
    with pytest.raises(ValueError, match="num_critics"):
        QEnsemble(3, 1, num_critics=0)


def test_frozen_matches_forward_and_sends_gradient_to_actions_only() -> None:
    torch.manual_seed(0)
    q = QEnsemble(4, 2, hidden=[8, 8], num_critics=2)
    obs = torch.randn(3, 5, 4)
    act = torch.randn(3, 5, 2, requires_grad=True)
    ref = q(obs, act)
    (g_ref,) = torch.autograd.grad(ref.min(0).values.sum(), act)
    out = q.frozen(obs, act)
    torch.testing.assert_close(out, ref)
    out.min(0).values.sum().backward()
    torch.testing.assert_close(act.grad, g_ref)
    assert all(p.grad is None for p in q.parameters())
