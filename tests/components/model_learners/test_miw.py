"""AMPL's marginal importance weights: the fixed point of Eq. 11 on a finite MDP is the true ratio."""

from __future__ import annotations

import torch

from components.model_learners._miw_weighted import MIWEstimator, miw_fixed_point_loss


def _finite_mdp(seed: int = 0, n_s: int = 4, n_a: int = 2, gamma: float = 0.8):
    g = torch.Generator().manual_seed(seed)
    P = torch.rand(n_s, n_a, n_s, generator=g, dtype=torch.float64) + 0.1
    P = P / P.sum(-1, keepdim=True)  # P[s, a, s']
    pi = torch.rand(n_s, n_a, generator=g, dtype=torch.float64) + 0.2
    pi = pi / pi.sum(-1, keepdim=True)
    mu0 = torch.rand(n_s, generator=g, dtype=torch.float64) + 0.1
    mu0 = mu0 / mu0.sum()
    d_b = torch.rand(n_s, n_a, generator=g, dtype=torch.float64) + 0.2  # the dataset's (s, a) law
    d_b = d_b / d_b.sum()
    # d_pi(s', a') = (1-g) mu0(s') pi(a'|s') + g sum_{s,a} d_pi(s, a) P(s'|s, a) pi(a'|s')
    n = n_s * n_a
    M = (P.reshape(n, n_s)[:, :, None] * pi[None, :, :]).reshape(n, n)  # (s,a) -> (s',a')
    d_pi = torch.linalg.solve(
        torch.eye(n, dtype=torch.float64) - gamma * M.T,
        (1 - gamma) * (mu0[:, None] * pi).reshape(n),
    )
    return P, pi, mu0, d_b, d_pi.reshape(n_s, n_a), gamma


def test_miw_fixed_point_converges_to_true_ratio() -> None:
    """Tabular one-hot omega, one-hot test functions, exact expectations: omega -> d_pi / d_D."""
    torch.manual_seed(0)
    P, pi, mu0, d_b, d_pi, gamma = _finite_mdp()
    n_s, n_a = pi.shape
    n = n_s * n_a
    eye = torch.eye(n)
    # Every (s, a, s', a') tuple with probability d_b(s, a) P(s'|s, a) pi(a'|s').
    sa = torch.arange(n).repeat_interleave(n)
    nxt = torch.arange(n).repeat(n)
    s, a = sa // n_a, sa % n_a
    s2, a2 = nxt // n_a, nxt % n_a
    w = (d_b[s, a] * P[s, a, s2] * pi[s2, a2]).float()
    w0 = (mu0[:, None] * pi).reshape(n).float()  # (s0, a0) law
    x = eye[sa]
    f_sa, f_next, f_init = eye[sa].T, eye[nxt].T, eye.T  # [J=n, rows]
    est = MIWEstimator(n, [], lr=0.05, tau=0.2)
    for _ in range(800):
        est.step(x, f_sa, f_next, f_init, gamma, weights=w, init_weights=w0)
    omega = est(eye).detach().double()
    true = (d_pi / d_b).reshape(n)
    torch.testing.assert_close(omega, true, rtol=0.03, atol=0.01)
    # The true ratio has mean 1 under the data, and the loss vanishes there.
    assert float((omega * d_b.reshape(n)).sum()) == __import__("pytest").approx(1.0, abs=0.02)
    loss, _ = miw_fixed_point_loss(
        true.float()[sa], true.float()[sa], f_sa, f_next, f_init, gamma, w, w0
    )
    assert float(loss) < 1e-10


def test_fixed_point_loss_by_hand_single_test_function() -> None:
    """J = 1: (E[w Q] - gamma E[w' Q'] - (1-gamma) E[Q0])^2 with Q rescaled by mean |Q|."""
    torch.manual_seed(1)
    omega, target = torch.rand(6) + 0.5, torch.rand(6) + 0.5
    q, qn, q0 = torch.randn(1, 6), torch.randn(1, 6), torch.randn(1, 4)
    loss, gap = miw_fixed_point_loss(omega, target, q, qn, q0, 0.9)
    c = q.abs().mean()
    expected = ((omega * q).mean() - 0.9 * (target * qn).mean() - 0.1 * q0.mean()) / c
    torch.testing.assert_close(gap[0], expected)
    torch.testing.assert_close(loss, expected**2)


def test_target_omega_gets_no_gradient() -> None:
    omega = torch.rand(5, requires_grad=True)
    target = torch.rand(5, requires_grad=True)
    loss, _ = miw_fixed_point_loss(
        omega, target, torch.randn(2, 5), torch.randn(2, 5), torch.randn(2, 3), 0.9
    )
    loss.backward()
    assert omega.grad is not None and target.grad is None
