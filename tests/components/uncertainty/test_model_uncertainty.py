"""max_aleatoric, ensemble_std, and the none / uncertainty_penalty reward shapers."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from components.reward_shapers.none import NoShapingConfig
from components.reward_shapers.uncertainty_penalty import UncertaintyPenaltyConfig
from components.uncertainty.ensemble_std import EnsembleStdConfig
from components.uncertainty.max_aleatoric import MaxAleatoricConfig
from tests.helpers.model import MODEL_CONFIG_MODULES, gaussian_ensemble, make_ctx, model_registry


@pytest.fixture(scope="module")
def registry():
    reg = model_registry()
    with reg.active():
        yield reg


def _model_and_inputs():
    torch.manual_seed(0)
    ctx = make_ctx()
    model = gaussian_ensemble(ctx)
    g = torch.Generator().manual_seed(2)
    model.fit_normalizer(
        torch.randn(40, 3, generator=g),
        torch.randn(40, 2, generator=g),
        3 * torch.randn(40, 4, generator=g),
    )
    model.set_elites(torch.tensor([0, 3]))
    return ctx, model, torch.randn(6, 3), torch.randn(6, 2)


def test_max_aleatoric_by_hand() -> None:
    ctx, model, obs, act = _model_and_inputs()
    pred = model.predict(obs, act)
    u = MaxAleatoricConfig().build(ctx)(obs, act, dynamics=model, prediction=pred)
    std = pred.std.detach()
    ref = torch.tensor(
        [
            max(float(torch.sqrt((std[e, b] ** 2).sum())) for e in range(model.members))
            for b in range(6)
        ]
    )
    torch.testing.assert_close(u, ref)
    # Without a prediction it runs the forward itself; the same value.
    torch.testing.assert_close(MaxAleatoricConfig().build(ctx)(obs, act, dynamics=model), u)
    elites = MaxAleatoricConfig(members="elites", include_reward=False).build(ctx)
    ref_e = torch.tensor([max(float(std[e, b, :3].norm()) for e in (0, 3)) for b in range(6)])
    torch.testing.assert_close(elites(obs, act, dynamics=model, prediction=pred), ref_e)
    assert not u.requires_grad


def test_ensemble_std_by_hand() -> None:
    ctx, model, obs, act = _model_and_inputs()
    pred = model.predict(obs, act)
    u = EnsembleStdConfig().build(ctx)(obs, act, dynamics=model, prediction=pred)
    mean = pred.mean.detach()
    ref = []
    for b in range(6):
        mu = mean[:, b]  # [E, D]
        centre = mu.mean(0)
        var = ((mu - centre) ** 2).sum(0) / model.members
        ref.append(var.sum().sqrt())
    torch.testing.assert_close(u, torch.stack(ref))
    unbiased = EnsembleStdConfig(unbiased=True, members="elites").build(ctx)
    mu = mean[[0, 3]]
    ref_u = ((mu - mu.mean(0)) ** 2).sum(0).sum(-1).sqrt()  # E'-1 = 1
    torch.testing.assert_close(unbiased(obs, act, dynamics=model, prediction=pred), ref_u)


def test_uncertainty_penalty_equals_r_minus_lambda_u(registry) -> None:
    ctx, model, obs, act = _model_and_inputs()
    step = model.sample(obs, act)
    shaper = UncertaintyPenaltyConfig(penalty=2.5).build(ctx)
    out = shaper.shape(step, dynamics=model, agent=None)
    shaped, diag = out.rewards, out.diagnostics
    u = MaxAleatoricConfig().build(ctx)(obs, act, dynamics=model)
    torch.testing.assert_close(shaped, step.rewards - 2.5 * u)
    torch.testing.assert_close(diag["penalty_max"], (2.5 * u).max())
    torch.testing.assert_close(diag["raw_reward_mean"], step.rewards.mean())
    other = UncertaintyPenaltyConfig(penalty=1.0, uncertainty="ensemble_std").build(ctx)
    shaped2 = other.shape(step, dynamics=model, agent=None).rewards
    u2 = EnsembleStdConfig().build(ctx)(obs, act, dynamics=model)
    torch.testing.assert_close(shaped2, step.rewards - u2)
    out0 = NoShapingConfig().build(ctx).shape(step, dynamics=model, agent=None)
    none, diag0 = out0.rewards, out0.diagnostics
    assert torch.equal(none, step.rewards)
    torch.testing.assert_close(diag0["reward_mean"], step.rewards.mean())


def test_config_round_trips(registry) -> None:
    for cfg in (
        UncertaintyPenaltyConfig(
            penalty=0.5, uncertainty={"type": "ensemble_std", "members": "elites"}
        ),
        MaxAleatoricConfig(include_reward=False),
        EnsembleStdConfig(unbiased=True),
        NoShapingConfig(),
    ):
        again = type(cfg).model_validate(cfg.model_dump())
        assert again == cfg
    with pytest.raises(ValueError):
        UncertaintyPenaltyConfig(penalty=-1.0)
    with pytest.raises(ValueError, match="max_aleatoric"):
        UncertaintyPenaltyConfig(uncertainty="max_aleatorc")


def test_registered_through_the_builtin_plugin() -> None:
    from components.plugin import BUILTIN_MODULES

    assert set(MODEL_CONFIG_MODULES) <= set(BUILTIN_MODULES)


def test_configs_import_without_torch() -> None:
    modules = ", ".join(f"components.{m}" for m in MODEL_CONFIG_MODULES)
    code = (
        f"import sys; import {modules}; "
        "from components.model_learners.mle import MLEConfig; MLEConfig(); "
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]; "
        "sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
