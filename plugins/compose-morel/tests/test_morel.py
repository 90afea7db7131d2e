"""compose-morel: registration through load_plugins(), values on a tiny gaussian_ensemble."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from compose.kinds import BuildContext
from compose.plugins import load_plugins

torch.set_num_threads(1)

OBS, ACT = 3, 2


@pytest.fixture(scope="module")
def loaded():
    plugins = load_plugins()
    with plugins.registry.active():
        yield plugins


def _ctx(data=None) -> BuildContext:
    return BuildContext(
        obs_dim=OBS,
        act_dim=ACT,
        action_low=-torch.ones(ACT),
        action_high=torch.ones(ACT),
        device=torch.device("cpu"),
        data=data,
    )


def _dynamics(loaded, ctx: BuildContext):
    config = loaded.registry.get("dynamics", "gaussian_ensemble").config
    torch.manual_seed(0)
    model = config(members=4, elites=2, hidden=[16], weight_decay=[0.0, 0.0]).build(ctx)
    g = torch.Generator().manual_seed(3)
    model.fit_normalizer(
        torch.randn(30, OBS, generator=g),
        torch.randn(30, ACT, generator=g),
        2 * torch.randn(30, OBS + 1, generator=g),
    )
    model.set_elites(torch.tensor([1, 2]))
    return model


def test_components_and_recipe_path_register(loaded) -> None:
    assert not [e for e in loaded.errors if e.distribution == "compose-morel"]
    uncertainty = loaded.registry.get("uncertainty", "max_pairwise_diff")
    halt = loaded.registry.get("reward_shaper", "halt")
    assert uncertainty.origin == halt.origin == "compose-morel"
    assert any((p / "morel.yaml").is_file() for p in loaded.recipe_paths)
    assert "compose-morel" in loaded.versions()


def test_max_pairwise_diff_by_hand(loaded) -> None:
    ctx = _ctx()
    model = _dynamics(loaded, ctx)
    obs, act = torch.randn(5, OBS), torch.randn(5, ACT)
    pred = model.predict(obs, act)
    config = loaded.registry.get("uncertainty", "max_pairwise_diff").config
    u = config().build(ctx)(obs, act, dynamics=model, prediction=pred)
    mean = pred.mean.detach()
    ref = torch.tensor(
        [
            max(
                float((mean[i, b, :OBS] - mean[j, b, :OBS]).norm())
                for i in range(4)
                for j in range(4)
            )
            for b in range(5)
        ]
    )
    torch.testing.assert_close(u, ref)
    # No prediction given: the same value from its own forward pass.
    torch.testing.assert_close(config().build(ctx)(obs, act, dynamics=model), u)
    elites = config(members="elites", include_reward=True).build(ctx)
    ref_e = (mean[1, :, :] - mean[2, :, :]).norm(dim=-1)
    torch.testing.assert_close(elites(obs, act, dynamics=model, prediction=pred), ref_e)


def test_halt_absolute_threshold(loaded) -> None:
    ctx = _ctx()
    model = _dynamics(loaded, ctx)
    obs, act = torch.randn(64, OBS), torch.randn(64, ACT)
    step = model.sample(obs, act)
    u = (
        loaded.registry.get("uncertainty", "max_pairwise_diff")
        .config()
        .build(ctx)(obs, act, dynamics=model)
    )
    cut = float(u.median())
    config = loaded.registry.get("reward_shaper", "halt").config
    shaper = config(kappa=7.0, threshold=cut, threshold_mode="absolute").build(ctx)
    out = shaper.shape(step, dynamics=model, agent=None)
    mask = u > cut
    assert 0 < int(mask.sum()) < 64
    assert torch.equal(out.terminate, mask) and "terminate" not in out.diagnostics
    torch.testing.assert_close(
        out.rewards, torch.where(mask, torch.full_like(u, -7.0), step.rewards)
    )


def test_halt_calibrates_on_data(loaded) -> None:
    g = torch.Generator().manual_seed(4)
    data = type(
        "Data",
        (),
        {"obs": torch.randn(300, OBS, generator=g), "actions": torch.randn(300, ACT, generator=g)},
    )
    ctx = _ctx(data)
    model = _dynamics(loaded, ctx)
    u_data = (
        loaded.registry.get("uncertainty", "max_pairwise_diff")
        .config()
        .build(ctx)(data.obs, data.actions, dynamics=model)
    )
    config = loaded.registry.get("reward_shaper", "halt").config
    shaper = config(threshold=0.5, calibration_rows=1000).build(ctx)
    assert torch.isnan(shaper.cutoff)
    rng = torch.get_rng_state()
    step = model.sample(data.obs[:50], data.actions[:50])
    rng_after_sample = torch.get_rng_state()
    shaper.shape(step, dynamics=model, agent=None)
    assert torch.equal(torch.get_rng_state(), rng_after_sample)  # calibration uses its own RNG
    assert not torch.equal(rng, rng_after_sample)
    torch.testing.assert_close(shaper.cutoff, 0.5 * u_data.max())
    mean_std = config(threshold=2.0, threshold_mode="data_mean_std").build(ctx)
    mean_std.shape(step, dynamics=model, agent=None)
    torch.testing.assert_close(mean_std.cutoff, u_data.mean() + 2.0 * u_data.std())
    # The cut-off is checkpointed.
    fresh = config(threshold=0.5).build(ctx)
    fresh.load_state_dict(shaper.state_dict())
    torch.testing.assert_close(fresh.cutoff, shaper.cutoff)


def test_config_round_trip_and_validation(loaded) -> None:
    config = loaded.registry.get("reward_shaper", "halt").config
    cfg = config(kappa=3.0, uncertainty={"type": "max_pairwise_diff", "members": "elites"})
    assert config.model_validate(cfg.model_dump()) == cfg
    with pytest.raises(ValueError):
        config(threshold=0.0)


def test_recipe_loads_by_name(loaded) -> None:
    from compose.recipe import load_recipe

    if not loaded.registry.names("dataset"):
        pytest.skip(f"compose registered no dataset source: {loaded.errors}")
    recipe = load_recipe("morel", plugins=loaded).recipe
    assert recipe.reward_shaper.component_name() == "halt"
    assert recipe.reward_shaper.uncertainty.component_name() == "max_pairwise_diff"


def test_configs_import_without_torch() -> None:
    code = (
        "import sys, compose_morel, compose_morel.plugin; "
        "sys.exit(1 if any(m == 'torch' or m.startswith('torch.') for m in sys.modules) else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    assert result.returncode == 0, result.stderr
