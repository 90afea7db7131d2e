"""Configs load without torch; registry flags; miw_weighted's policy-phase update end to end (tiny)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from pydantic import ValidationError

from tests.helpers.ampl_damo import make_agent, make_ctx, make_data

CONFIG_MODULES = [
    "components.model_learners.miw_weighted",
    "components.policies.implicit",
    "components.aux_losses.rollout_discriminator",
    "components.aux_losses.conservative_q",
    "components.actor_objectives.q_normalized",
    "components.actor_objectives.fdiv_dual",
    "components.critic_targets.mixed_min_max",
    "components.critic_targets.fdiv_dual",
    "components.reward_shapers.classifier_log_ratio",
]


def test_config_modules_import_without_torch() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CONFIG_MODULES)
        + "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_flags_and_constraints() -> None:
    from components.actor_objectives.q_normalized import QNormalizedConfig
    from components.aux_losses.conservative_q import ConservativeQConfig
    from components.aux_losses.rollout_discriminator import RolloutDiscriminatorConfig
    from components.critic_targets.mixed_min_max import MixedMinMaxConfig
    from components.policies.implicit import ImplicitPolicyConfig
    from components.reward_shapers.classifier_log_ratio import ClassifierLogRatioConfig

    assert ImplicitPolicyConfig.has_log_prob is False
    assert QNormalizedConfig.needs_log_prob is False and MixedMinMaxConfig.needs_log_prob is False
    assert RolloutDiscriminatorConfig.attaches_to == ("actor",)
    assert ConservativeQConfig.attaches_to == ("critic",)
    with pytest.raises(ValidationError):
        MixedMinMaxConfig(c=1.5)
    with pytest.raises(ValidationError):
        ClassifierLogRatioConfig(real_fraction=1.0)
    with pytest.raises(ValidationError):
        QNormalizedConfig(lambda_prime=0.0)


def test_miw_weighted_update_fits_omega_and_retrains_the_model() -> None:
    from components.dynamics.gaussian_ensemble import GaussianEnsembleConfig
    from components.model_learners.miw_weighted import MIWWeightedConfig
    from compose.kinds import Batch, UpdateInputs

    torch.manual_seed(0)
    data = make_data(n=300)
    ctx = make_ctx(data=data)
    dyn = GaussianEnsembleConfig(
        members=3, elites=2, hidden=[16, 16], weight_decay=[0.0, 0.0, 0.0]
    ).build(ctx)
    ctx.dynamics = dyn
    learner = MIWWeightedConfig(
        holdout=50,
        max_epochs=2,
        retrain_every=10,
        miw_steps=20,
        miw_hidden=[16],
        model_steps=10,
        batch_size=32,
    ).build(ctx)
    assert learner.updates_during_policy
    learner.pretrain(dyn, data, lambda metrics, step: None)
    agent = make_agent(ctx)
    real = Batch(
        data.obs[:8], data.actions[:8], data.rewards[:8], data.next_obs[:8], data.terminals[:8]
    )
    assert learner.update(UpdateInputs(step=5, real=real, agent=agent, dynamics=dyn)) == {}
    before = [p.detach().clone() for p in dyn.parameters()]
    out = learner.update(UpdateInputs(step=10, real=real, agent=agent, dynamics=dyn))
    assert {"miw_loss", "weighted_nll", "log_omega_q25", "log_omega_q50", "log_omega_q75"} <= set(
        out
    )
    assert out["log_omega_q25"] <= out["log_omega_q50"] <= out["log_omega_q75"]
    w = learner.dataset_weights()
    assert w.shape == (300,) and float(w.mean()) == pytest.approx(1.0, abs=1e-5) and (w > 0).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, dyn.parameters(), strict=True))
    # NW ablation: no omega fit, plain periodic retraining
    nw = MIWWeightedConfig(
        holdout=50, max_epochs=1, retrain_every=10, weighted=False, model_steps=3
    ).build(ctx)
    out_nw = nw.update(UpdateInputs(step=10, real=real, agent=agent, dynamics=dyn))
    assert set(out_nw) == {"weighted_nll"}
