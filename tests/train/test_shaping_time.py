"""The update step shapes a sampling-time shaper's model rows after the shaper's own update,
and seed batching refuses such a shaper (DAMO's classifier: damo.txt Algorithm 1 lines 6-8)."""

from __future__ import annotations

import pytest
import torch

from compose.kinds import Buffers
from compose.plugins import load_plugins
from compose.recipe import load_recipe
from compose.recipe.profiles import applicable_overrides
from compose.train.buffers import TransitionBuffer
from compose.train.build import build_parts
from compose.train.seeds.step import unbatchable
from compose.train.step import UpdateStep, update_inputs
from tests.helpers.runs import DATASET, ROOT, SHRINK


def _parts(*sets: str):  # noqa: ANN202
    dataset = f"dataset={{source: minari, id: {DATASET}}}"
    base = load_recipe("damo", [dataset], plugins=load_plugins())
    recipe = load_recipe(
        "damo", [dataset, *applicable_overrides(SHRINK, base.recipe), *sets], plugins=load_plugins()
    ).recipe
    torch.manual_seed(0)
    data = recipe.dataset.load()
    return build_parts(recipe, data, torch.device("cpu")), data


@pytest.fixture()
def in_store(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
    monkeypatch.chdir(ROOT)


def test_the_critic_sees_rewards_shaped_by_the_classifier_of_this_step(in_store: None) -> None:
    parts, data = _parts()
    shaper = parts.reward_shaper
    assert shaper.shape_at == "sampling"
    real = TransitionBuffer.from_tensors(
        data.obs, data.actions, data.rewards, data.next_obs, data.terminals.bool(), "cpu"
    )
    model_buffer = TransitionBuffer(500, real.obs.shape[1], real.actions.shape[1], "cpu")
    noisy = real.sample(500)
    model_buffer.add(
        noisy.obs, noisy.actions, noisy.rewards, noisy.next_obs + 0.3, noisy.terminals.bool()
    )
    model = model_buffer.sample(24)
    inputs = update_inputs(parts, 0, real.sample(8), model, Buffers(real, model_buffer))
    before = shaper.log_ratio(model.obs, model.actions, model.next_obs)
    seen = {}
    loss = parts.critic_target.loss

    def spy(inputs):  # noqa: ANN001, ANN202
        seen["rewards"] = inputs.batch.rewards.clone()
        seen["log_ratio"] = shaper.log_ratio(model.obs, model.actions, model.next_obs)
        return loss(inputs)

    parts.critic_target.loss = spy  # type: ignore[method-assign]
    out = UpdateStep(parts, 0.005)(inputs)
    assert "reward_shaper/classifier_loss" in out and "reward_shaper/penalty_mean" in out
    assert not torch.allclose(
        seen["log_ratio"], before
    )  # h trained in this step, before the critic
    alpha = shaper.config.alpha
    torch.testing.assert_close(seen["rewards"][8:], model.rewards - alpha * seen["log_ratio"])
    torch.testing.assert_close(seen["rewards"][:8], inputs.real.rewards)
    assert torch.equal(model_buffer.rewards[:500], noisy.rewards)  # the buffer keeps r


def test_seed_batching_refuses_a_sampling_time_shaper(in_store: None) -> None:
    parts, _ = _parts()
    reasons = unbatchable(parts)
    assert any("sampling time" in r for r in reasons), reasons
    rollout_time, _ = _parts("reward_shaper.shape_at=rollout")
    reasons = unbatchable(rollout_time)
    assert not any("sampling time" in r for r in reasons)
    assert any(r.startswith("reward_shaper:") for r in reasons)  # h still trains in update()
