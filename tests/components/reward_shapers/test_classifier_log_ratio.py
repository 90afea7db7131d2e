"""DAMO's classifier: a known density ratio on synthetic Gaussians, its own batch at ratio d,
sampling-time shaping with the current h, exact resume."""

from __future__ import annotations

import copy

import pytest
import torch

from components.reward_shapers.classifier_log_ratio import ClassifierLogRatioConfig
from compose.kinds import Batch, Buffers, UpdateInputs
from compose.train.buffers import TransitionBuffer
from compose.train.checkpoint import load_component_state
from tests.helpers.ampl_damo import make_ctx


def _gaussian_batch(n: int, shift: torch.Tensor, g: torch.Generator) -> Batch:
    x = torch.randn(n, 5, generator=g) + shift
    return Batch(
        obs=x[:, :2],
        actions=x[:, 2:3],
        rewards=torch.zeros(n),
        next_obs=x[:, 3:],
        terminals=torch.zeros(n),
    )


def _buffer(batch: Batch) -> TransitionBuffer:
    return TransitionBuffer.from_tensors(
        batch.obs, batch.actions, batch.rewards, batch.next_obs, batch.terminals.bool(), "cpu"
    )


@pytest.mark.parametrize("source", ["buffers", "policy_batch"])
def test_log_ratio_recovers_gaussian_density_ratio(source: str) -> None:
    """real ~ N(0, I), model ~ N(mu, I) over (s, a, s'): log rho_M / rho_T = mu.x - |mu|^2 / 2.

    d = 0.3 (not 0.5), so the prior correction log((1-d)/d) must be right too, whether the
    ratio is in the draw (``buffers``) or only in the loss weights (``policy_batch``).
    """
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([0.6, -0.4, 0.3, 0.0, 0.5])
    ctx = make_ctx(obs_dim=2, act_dim=1)
    shaper = ClassifierLogRatioConfig(
        real_fraction=0.3,
        hidden=[32],
        lr=3e-3,
        batch_size=512,
        alpha=2.0,
        logit_clip=10.0,
        batch_source=source,
    ).build(ctx)
    buffers = Buffers(
        real=_buffer(_gaussian_batch(20000, 0 * mu, g)),
        model=_buffer(_gaussian_batch(20000, mu, g)),
    )
    for step in range(600):
        shaper.update(
            UpdateInputs(
                step=step,
                real=_gaussian_batch(512, 0 * mu, g),
                model=_gaussian_batch(512, mu, g),
                buffers=buffers,
            )
        )
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
    pred = Prediction(
        torch.zeros(1, n, 3), torch.ones(1, n, 3), torch.zeros(1, n, 3), torch.zeros(1, n, 3)
    )
    tr = ModelTransitions(
        torch.randn(n, 2),
        torch.randn(n, 1),
        torch.randn(n, 2),
        torch.ones(n),
        torch.zeros(n),
        torch.zeros(n, dtype=torch.long),
        pred,
    )
    raw = shaper.logit(tr.obs, tr.actions, tr.next_obs)
    out = shaper.shape(tr, dynamics=None, agent=None)  # type: ignore[arg-type]
    shaped, diag = out.rewards, out.diagnostics
    expected = 1.0 - 1.5 * raw.clamp(-0.05, 0.05)
    torch.testing.assert_close(shaped, expected.detach())
    assert float(diag["clip_frac"]) > 0.0


def test_update_skips_without_model_rows_and_on_schedule() -> None:
    ctx = make_ctx(obs_dim=2, act_dim=1)
    shaper = ClassifierLogRatioConfig(train_every=3, batch_source="policy_batch").build(ctx)
    g = torch.Generator().manual_seed(0)
    real = _gaussian_batch(16, torch.zeros(5), g)
    assert shaper.update(UpdateInputs(step=3, real=real)) == {}
    assert shaper.update(UpdateInputs(step=4, real=real, model=real)) == {}
    assert "classifier_loss" in shaper.update(UpdateInputs(step=6, real=real, model=real))
    own = ClassifierLogRatioConfig(train_every=3).build(ctx)
    empty = TransitionBuffer(10, 2, 1, "cpu")
    assert own.update(UpdateInputs(step=3, real=real, buffers=Buffers(_buffer(real), empty))) == {}
    with pytest.raises(ValueError, match="batch_source=policy_batch"):
        own.update(UpdateInputs(step=3, real=real, model=real))  # no buffers handed over


def _marked(n: int, value: float) -> Batch:
    """n rows whose every entry is ``value`` (so a row tells where it came from)."""
    return Batch(
        torch.full((n, 2), value),
        torch.full((n, 1), value),
        torch.full((n,), value),
        torch.full((n, 2), value),
        torch.zeros(n),
    )


@pytest.mark.parametrize(("d", "n_real"), [(0.5, 20), (0.25, 10)])
def test_classifier_trains_on_its_own_batch_at_ratio_d_not_the_policy_batch(
    d: float, n_real: int
) -> None:
    """App. C.3: each gradient step draws d real and 1 - d model rows from the two buffers.

    The policy batch (13 real, 243 model rows: DAMO's 5%) is marked 7 and 9; the buffers'
    rows -1 (real) and +1 (model). Every row the loss sees must come from the buffers, in
    the ratio d, drawn fresh at each of the ``steps`` gradient steps, without touching the
    global random stream.
    """
    ctx = make_ctx(obs_dim=2, act_dim=1)
    shaper = ClassifierLogRatioConfig(real_fraction=d, batch_size=40, steps=3, hidden=[8]).build(
        ctx
    )
    real_rows = _marked(50, -1.0).replace(obs=torch.randn(50, 2) - 10)  # distinct rows
    model_rows = _marked(50, 1.0).replace(obs=torch.randn(50, 2) + 10)
    buffers = Buffers(real=_buffer(real_rows), model=_buffer(model_rows))
    seen: list[tuple[Batch, Batch]] = []
    loss = shaper.classifier_loss
    shaper.classifier_loss = lambda r, m: (seen.append((r, m)), loss(r, m))[1]  # type: ignore[method-assign]
    rng = torch.get_rng_state()
    shaper.update(
        UpdateInputs(step=0, real=_marked(13, 7.0), model=_marked(243, 9.0), buffers=buffers)
    )
    assert torch.equal(torch.get_rng_state(), rng)
    assert len(seen) == 3
    for real, model in seen:
        assert (len(real), len(model)) == (n_real, 40 - n_real)
        assert bool((real.actions == -1).all()) and bool((model.actions == 1).all())
        assert bool((real.obs < -5).all()) and bool((model.obs > 5).all())
    assert not torch.equal(seen[0][0].obs, seen[1][0].obs)  # a fresh draw per gradient step


def test_classifier_state_resumes_exactly() -> None:
    """Net, Adam and the batch generator come back: a restored copy trains as the original."""
    ctx = make_ctx(obs_dim=2, act_dim=1)
    g = torch.Generator().manual_seed(1)
    buffers = Buffers(
        real=_buffer(_gaussian_batch(300, torch.zeros(5), g)),
        model=_buffer(_gaussian_batch(300, torch.ones(5), g)),
    )
    cfg = ClassifierLogRatioConfig(batch_size=32, hidden=[8])
    real = _gaussian_batch(4, torch.zeros(5), g)
    a = cfg.build(ctx)
    for step in range(3):
        a.update(UpdateInputs(step=step, real=real, buffers=buffers))
    state = copy.deepcopy(a.checkpoint_state())
    assert "generator" in state
    torch.manual_seed(123)  # a resumed run builds under another global state
    b = cfg.build(make_ctx(obs_dim=2, act_dim=1))
    load_component_state(b, state)
    for step in range(3, 6):
        a.update(UpdateInputs(step=step, real=real, buffers=buffers))
        b.update(UpdateInputs(step=step, real=real, buffers=buffers))
    for x, y in zip(a.net.parameters(), b.net.parameters(), strict=True):
        assert torch.equal(x, y)
    assert torch.equal(a.generator.get_state(), b.generator.get_state())


def test_sampling_time_shaping_uses_the_current_classifier() -> None:
    """Alg. 1 l. 6-8: a stored model row's reward follows h as it trains (``sampling``);
    ``rollout`` freezes the reward of the h at rollout time into the buffer."""
    from compose.train.step import shape_sampled_rows

    ctx = make_ctx(obs_dim=2, act_dim=1)
    row = _marked(1, 0.5)
    rewards = {}
    for shape_at in ("sampling", "rollout"):
        torch.manual_seed(0)
        shaper = ClassifierLogRatioConfig(alpha=2.0, shape_at=shape_at, hidden=[8]).build(ctx)
        assert shaper.shape_at == shape_at
        model_buffer = TransitionBuffer(4, 2, 1, "cpu")
        if shape_at == "rollout":  # what branched_rollout stores for a rollout-time shaper
            stored = shaper.shape_sampled(row, dynamics=None, agent=None).rewards
            model_buffer.add(row.obs, row.actions, stored, row.next_obs, row.terminals.bool())
        else:  # raw reward stored
            model_buffer.add(row.obs, row.actions, row.rewards, row.next_obs, row.terminals.bool())
        got = []
        for _ in range(2):
            model = model_buffer.sample(1)
            real = _marked(1, -0.5)
            inputs = UpdateInputs(step=0, real=real, model=model, batch=Batch.cat(real, model))
            shaped, _ = shape_sampled_rows(shaper, inputs)
            assert float(shaped.batch.rewards[0]) == -0.5  # real rows are never shaped
            assert float(shaped.batch.rewards[1]) == float(shaped.model.rewards[0])
            got.append(float(shaped.model.rewards[0]))
            with torch.no_grad():  # the classifier changes between the two samplings
                shaper.net.body.linear_layers()[-1].bias.add_(1.0)
        rewards[shape_at] = got
    a, b = rewards["sampling"]
    assert a == pytest.approx(0.5 - 2.0 * float(_log_ratio_before(ctx)), abs=1e-5)
    assert b == pytest.approx(a - 2.0, abs=1e-5)  # the logit rose by 1: penalty by alpha
    assert rewards["rollout"][0] == rewards["rollout"][1] == pytest.approx(a, abs=1e-5)


def _log_ratio_before(ctx) -> torch.Tensor:  # noqa: ANN001
    torch.manual_seed(0)
    shaper = ClassifierLogRatioConfig(alpha=2.0, hidden=[8]).build(ctx)
    row = _marked(1, 0.5)
    return shaper.log_ratio(row.obs, row.actions, row.next_obs)[0]
