"""The model cache key leaves out a learner's policy-phase fields, and only those.

A sweep over RAMBO's lambda, ROMI's xi or AMPL's NW ablation fits the pretrained model once:
the second run loads it from the cache, and its results equal those of a run that fitted its
own model (the loop reseeds after the model phase). Fields that shape the model phase still
change the key, and every declared policy-phase field is a real field of its config.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from compose.plugins import load_plugins
from compose.recipe import load_recipe
from compose.train.model_phase import model_cache_key, policy_phase_fields
from tests.helpers.runs import ROOT, run_tiny


def key(name: str, *sets: str) -> str:
    recipe = load_recipe(name, list(sets), plugins=load_plugins()).recipe
    return model_cache_key(recipe, "fingerprint")


@pytest.mark.parametrize(
    ("name", "same", "different"),
    [
        ("rambo", "model_learner.aux_losses.0.weight=0.1", "model_learner.patience=3"),
        ("romi", "model_learner.outer.xi=10.0", "model_learner.weight_hidden=[64]"),
        ("ampl", "model_learner.weighted=false", "model_learner.max_epochs=3"),
        ("mopo", "seed=0", "seed=1"),
    ],
)
def test_policy_phase_fields_are_left_out_of_the_key(name: str, same: str, different: str) -> None:
    base = key(name, "seed=0")
    assert key(name, "seed=0", same) == base
    assert key(name, "seed=0", different) != base


def test_vipo_aux_loss_changes_the_key() -> None:
    """mle trains its aux losses in the model phase: they are part of the key."""
    assert key("vipo_mopo", "model_learner.aux_losses.0.weight=0.1") != key("vipo_mopo")


def test_declared_fields_exist() -> None:
    registry = load_plugins().registry
    for cls in (spec.config for spec in registry.specs("model_learner")):
        unknown = policy_phase_fields(cls.model_construct()) - set(cls.model_fields)
        assert not unknown, f"{cls.__name__}.policy_phase_fields names no field: {sorted(unknown)}"


def _run(name: str, tmp: Path, cache: Path, label: str, *sets: str) -> tuple[dict, str]:
    return run_tiny(name, tmp / label, f"runtime.model_cache={cache}", *sets)


def test_a_lambda_sweep_reuses_the_model_and_matches_a_fresh_fit(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
    monkeypatch.chdir(ROOT)
    shared, fresh = tmp_path / "shared", tmp_path / "fresh"
    _, first = _run("rambo", tmp_path, shared, "a", "model_learner.aux_losses.0.weight=0.0003")
    assert "fitting the dynamics" in first
    cached, out = _run("rambo", tmp_path, shared, "b", "model_learner.aux_losses.0.weight=0.05")
    assert "loaded the fitted model from the cache" in out
    fitted, out = _run("rambo", tmp_path, fresh, "c", "model_learner.aux_losses.0.weight=0.05")
    assert "fitting the dynamics" in out
    assert cached["evals"] == fitted["evals"]
    assert cached["final_normalized_score"] == fitted["final_normalized_score"]
    drop = {"cached", "seconds"}
    assert {k: v for k, v in cached["model_metrics"].items() if k not in drop} == {
        k: v for k, v in fitted["model_metrics"].items() if k not in drop
    }
