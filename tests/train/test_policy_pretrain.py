"""Behavior-cloning pretraining of the policy (``policy_pretrain``) on the tiny pendulum data.

BC by log-likelihood lowers the NLL of dataset actions; the mse fallback for a policy
without a density lowers the action error; ``steps: 0`` leaves the policy untouched inside
the real trainer; ``loss: nll`` with a density-free policy is refused at validation.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor

from components.policies._tanh_gaussian import TanhGaussianPolicy
from compose.kinds import Policy
from compose.nn import tanh_normal_log_prob
from compose.recipe import RecipeError, load_recipe
from compose.train.loop import RunOptions, Trainer
from compose.train.policy_pretrain import bc_loss, pretrain_policy, resolved_loss
from tests.helpers.runs import DATASET

TINY = [
    f"dataset={{source: minari, id: {DATASET}}}",
    "dynamics.hidden=[32,32]",
    "dynamics.weight_decay=[0,0,0]",
    "policy.hidden=[64,64]",
    "critic.hidden=[32,32]",
    "rollout.batch_size=64",
    "runtime.threads=1",
    "runtime.model_cache=null",
]


class DensityTanhGaussian(TanhGaussianPolicy):
    """The shipped tanh_gaussian with log pi(a|s) of given actions (in case it lacks one)."""

    def log_prob(self, obs: Tensor, actions: Tensor) -> Tensor:
        """SAC Eq. 21 at the unsquashed dataset action, minus the affine scaling's log-det."""
        mean, log_std = self.dist_params(obs)
        unit = (actions - self.action_center) / self.action_half_range
        return tanh_normal_log_prob(unit, mean, log_std) - self.log_scale


def trainer(tmp: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *sets: str) -> Trainer:
    """A set-up trainer (data, components, buffers) of a tiny recipe, no tracking."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
    recipe = sets[0] if sets and not sets[0].count("=") else "mbpo"
    overrides = [s for s in sets if "=" in s]
    t = Trainer(load_recipe(recipe, [*TINY, *overrides]), RunOptions(run_dir=tmp, track=False))
    t.setup()
    return t


def mean_nll(policy: Policy, obs: Tensor, actions: Tensor) -> float:
    with torch.no_grad():
        return float(-policy.log_prob(obs, actions).mean())


def test_bc_reduces_nll_of_dataset_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    torch.manual_seed(0)
    t = trainer(tmp_path, monkeypatch, env)
    policy = DensityTanhGaussian(t.recipe.policy, t.parts.ctx)
    obs, actions = t.real.obs, t.real.actions
    assert resolved_loss(policy, "auto") == "nll"
    fresh = mean_nll(policy, obs, actions)
    # A poor start (off-centre, narrow): the random dataset's actions are near what a fresh
    # policy already predicts, so start where BC has something to do.
    bias = list(policy.trunk.parameters())[-1]
    with torch.no_grad():
        bias[: policy.act_dim] += 1.5
        bias[policy.act_dim :] -= 2.0
    before = mean_nll(policy, obs, actions)
    assert before > fresh + 1.0
    cfg = t.recipe.policy_pretrain.model_copy(update={"steps": 300, "lr": 1e-3, "loss": "nll"})
    logged: list[int] = []
    final = pretrain_policy(
        policy, obs, actions, cfg, log=lambda m, s: logged.append(s), log_every=100
    )
    after = mean_nll(policy, obs, actions)
    assert logged == [100, 200, 300]
    assert after < before - 1.0 and after < fresh + 0.1, (fresh, before, after)
    assert final["loss_is_nll"] == 1.0 and math.isfinite(final["loss_bc"])
    # the reported loss is the NLL of a batch: close to the full-dataset value
    assert abs(final["nll"] - after) < 0.5


def test_mse_fallback_for_a_policy_without_density(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    torch.manual_seed(0)
    t = trainer(
        tmp_path,
        monkeypatch,
        env,
        "ampl",
        "policy.hidden=[32,32]",
        "actor.aux_losses.0.hidden=[32,32]",
        "model_learner.miw_hidden=[32,32]",
    )
    policy, obs, actions = t.parts.policy, t.real.obs, t.real.actions
    assert not type(policy.config).has_log_prob and resolved_loss(policy, "auto") == "mse"
    with pytest.raises(ValueError, match="does not implement log_prob"):
        resolved_loss(policy, "nll")
    with torch.no_grad():
        before = float(bc_loss(policy, obs, actions, "mse")["mse"])
    cfg = t.recipe.policy_pretrain.model_copy(update={"steps": 200, "lr": 1e-3})
    pretrain_policy(policy, obs, actions, cfg, log=lambda m, s: None)
    with torch.no_grad():
        after = float(bc_loss(policy, obs, actions, "mse")["mse"])
    assert after < before, (before, after)


def test_trainer_pretrains_only_when_steps_are_positive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    off = trainer(tmp_path / "off", monkeypatch, env)
    start = {k: v.clone() for k, v in off.parts.policy.state_dict().items()}
    off.policy_pretrain()
    assert off.pretrain_metrics == {}
    assert all(torch.equal(v, start[k]) for k, v in off.parts.policy.state_dict().items())

    on = trainer(tmp_path / "on", monkeypatch, env, "policy_pretrain.steps=5")
    start = {k: v.clone() for k, v in on.parts.policy.state_dict().items()}
    on.policy_pretrain()
    assert on.pretrain_metrics["steps"] == 5.0 and math.isfinite(on.pretrain_metrics["loss_bc"])
    assert any(not torch.equal(v, start[k]) for k, v in on.parts.policy.state_dict().items())


def test_nll_with_a_density_free_policy_is_refused_at_validation() -> None:
    with pytest.raises(RecipeError) as err:
        load_recipe("ampl", ["policy_pretrain.steps=10", "policy_pretrain.loss=nll"])
    assert "policy_pretrain.loss 'nll' needs log pi" in "\n".join(err.value.lines())
    # steps: 0 (off) is always valid, and auto picks mse
    load_recipe("ampl", ["policy_pretrain.loss=nll"])
    load_recipe("ampl", ["policy_pretrain.steps=10"])


def test_shipped_recipes_bc_settings() -> None:
    assert load_recipe("rambo").recipe.policy_pretrain.steps > 0
    romi = load_recipe("romi").recipe.policy_pretrain  # Table 3: "Require pretraining: False"
    assert romi.steps == 0 and romi.lr == 1e-4 and romi.batch_size == 256


def test_pretraining_records_the_cloned_policys_score_at_step_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    t = trainer(tmp_path, monkeypatch, env, "policy_pretrain.steps=5", "eval.episodes=1")
    t.policy_pretrain()
    assert [e["step"] for e in t.eval_history] == [0.0]
    assert math.isfinite(t.eval_history[0]["eval/return"])


@pytest.mark.parametrize("warmup", [6, 3])
def test_actor_warmup_trains_only_the_critics_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], warmup: int
) -> None:
    """train.actor_warmup = N: steps 0..N-1 leave the policy and temperature untouched."""
    t = trainer(
        tmp_path,
        monkeypatch,
        env,
        "train.steps=6",
        f"train.actor_warmup={warmup}",
        "model_learner.max_epochs=1",
        "eval.every=1000",
        "eval.episodes=1",
        "checkpoint.every=1000",
        "rollout.every=3",
    )
    t.model_phase()
    policy = {k: v.clone() for k, v in t.parts.policy.state_dict().items()}
    critic = {k: v.clone() for k, v in t.parts.critic.state_dict().items()}
    alpha = t.parts.actor_objective.temperature().detach().clone()
    t.policy_phase()
    policy_same = all(torch.equal(v, policy[k]) for k, v in t.parts.policy.state_dict().items())
    critic_same = all(torch.equal(v, critic[k]) for k, v in t.parts.critic.state_dict().items())
    assert not critic_same
    assert policy_same == (warmup >= 6)
    assert torch.equal(t.parts.actor_objective.temperature().detach(), alpha) == (warmup >= 6)
