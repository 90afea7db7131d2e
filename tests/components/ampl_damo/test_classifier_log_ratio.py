"""DAMO's classifier log-ratio recovers a known density ratio on synthetic Gaussians."""

from __future__ import annotations

import torch

from components.reward_shapers.classifier_log_ratio import ClassifierLogRatioConfig
from compose.kinds import Batch, UpdateInputs

from .helpers import make_ctx


def _gaussian_batch(n: int, shift: torch.Tensor, g: torch.Generator) -> Batch:
    x = torch.randn(n, 5, generator=g) + shift
    return Batch(obs=x[:, :2], actions=x[:, 2:3], rewards=torch.zeros(n), next_obs=x[:, 3:], terminals=torch.zeros(n))


def test_log_ratio_recovers_gaussian_density_ratio() -> None:
    """real ~ N(0, I), model ~ N(mu, I) over (s, a, s'): log rho_M / rho_T = mu.x - |mu|^2 / 2.

    d = 0.3 (not 0.5), so the prior correction log((1-d)/d) must be right too.
    """
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([0.6, -0.4, 0.3, 0.0, 0.5])
    ctx = make_ctx(obs_dim=2, act_dim=1)
    shaper = ClassifierLogRatioConfig(
        real_fraction=0.3, hidden=[32], lr=3e-3, batch_size=512, alpha=2.0, logit_clip=10.0
    ).build(ctx)
    for step in range(600):
        shaper.update(UpdateInputs(step=step, real=_gaussian_batch(512, 0 * mu, g),
                                   model=_gaussian_batch(512, mu, g)))
    test = _gaussian_batch(2000, 0.5 * mu, g)  # between the two bulks
    x = torch.cat([test.obs, test.actions, test.next_obs], dim=1)
    true = x @ mu - 0.5 * mu.pow(2).sum()
    est = shaper.log_ratio(test.obs, test.actions, test.next_obs)
    assert float((est - true).abs().mean()) < 0.15
    assert float(torch.corrcoef(torch.stack([est, true]))[0, 1]) > 0.97


def test_shape_subtracts_alpha_times_clipped_log_ratio() -> None:
    from compose.kinds import ModelTransitions, Prediction

    torch.manual_seed(0)
    ctx = make_ctx(obs_dim=2, act_dim=1)
    shaper = ClassifierLogRatioConfig(alpha=1.5, logit_clip=0.05, real_fraction=0.5).build(ctx)
    with torch.no_grad():
        shaper.net.body.linear_layers()[-1].bias.fill_(3.0)  # confident "model": logit >> clip
    n = 8
    pred = Prediction(torch.zeros(1, n, 3), torch.ones(1, n, 3), torch.zeros(1, n, 3), torch.zeros(1, n, 3))
    tr = ModelTransitions(torch.randn(n, 2), torch.randn(n, 1), torch.randn(n, 2), torch.ones(n),
                          torch.zeros(n), torch.zeros(n, dtype=torch.long), pred)
    raw = shaper.logit(tr.obs, tr.actions, tr.next_obs)
    shaped, diag = shaper.shape(tr, dynamics=None, agent=None)  # type: ignore[arg-type]
    expected = 1.0 - 1.5 * raw.clamp(-0.05, 0.05)
    torch.testing.assert_close(shaped, expected.detach())
    assert float(diag["clip_frac"]) > 0.0


def test_update_skips_without_model_rows_and_on_schedule() -> None:
    ctx = make_ctx(obs_dim=2, act_dim=1)
    shaper = ClassifierLogRatioConfig(train_every=3).build(ctx)
    g = torch.Generator().manual_seed(0)
    real = _gaussian_batch(16, torch.zeros(5), g)
    assert shaper.update(UpdateInputs(step=3, real=real)) == {}
    assert shaper.update(UpdateInputs(step=4, real=real, model=real)) == {}
    assert "classifier_loss" in shaper.update(UpdateInputs(step=6, real=real, model=real))
