"""Every shipped recipe trains end to end through ``compose run`` on the tiny pendulum data.

One list of shrinking overrides fits every recipe: only the overrides whose path exists in a
recipe are applied (``compose.recipe.profiles.applicable_overrides``, the logic ``--quick``
uses), so learners without ``max_epochs`` get their own knobs (``pretrain_epochs``,
``retrain_every``, ...) shrunk instead. Each run must finish with a finite normalized score,
and every component slot the recipe fills must have logged metrics to Aim.
The CLI runs in-process (click's runner) to save the interpreter start-up per recipe.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from compose.cli import cli
from compose.plugins import load_plugins
from compose.recipe import load_recipe
from compose.recipe.composition import find_recipe
from compose.recipe.profiles import applicable_overrides
from tests.helpers.runs import DATASET, ROOT, SHRINK, read_run

RECIPES = [
    "vipo_mopo",
    "vipo_mobile",
    "rambo",
    "romi",
    "romi_no_weighting",
    "ampl",
    "damo",
    "combo",
    "damo_vipo",
    "mbpo",
    "morel",
]

# Recipes whose model learner trains on its own schedule during the policy phase.
POLICY_PHASE_LEARNERS = {"rambo", "romi", "romi_no_weighting", "ampl"}


def _slot_prefixes(recipe: object) -> set[str]:
    """Metric prefixes the recipe's own components must log under."""
    names = {"model_learner", "critic_target", "actor_objective"}
    for slot in recipe.slot_configs():  # type: ignore[attr-defined]
        if slot.startswith(("critic.aux_losses", "actor.aux_losses")):
            names.add(slot)
    if recipe.reward_shaper.component_name() != "none":  # type: ignore[attr-defined]
        names.add("reward_shaper")
    if recipe.policy_pretrain.steps > 0:  # type: ignore[attr-defined]
        names.add("policy_pretrain")
    return names


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_runs_tiny_end_to_end(
    name: str, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = load_plugins()
    from compose.recipe import search_paths

    if not isinstance(find_recipe(name, None, search_paths(plugins)), Path):
        pytest.skip(f"recipe {name} is not in the search path (plugin not installed)")
    monkeypatch.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
    monkeypatch.chdir(ROOT)
    base = load_recipe(name, [f"dataset={{source: minari, id: {DATASET}}}"], plugins=plugins)
    sets = [
        f"dataset={{source: minari, id: {DATASET}}}",
        *applicable_overrides(SHRINK, base.recipe),
        f"runtime.model_cache={tmp_path / 'models'}",
        f"track.repo={tmp_path / 'aim'}",
    ]
    run_dir = tmp_path / "run"
    args = ["run", name, "--run-dir", str(run_dir)]
    for s in sets:
        args += ["--set", s]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == 40
    score = summary["final_normalized_score"]
    assert isinstance(score, float) and math.isfinite(score)
    if base.recipe.policy_pretrain.steps > 0:
        assert summary["policy_pretrain"]["steps"] == 20.0
        assert math.isfinite(summary["policy_pretrain"]["loss_bc"])
    run = read_run(tmp_path / "aim", summary["aim_run_hash"])
    logged = {m.name.split("/")[0] for m in run.metrics()}
    missing = _slot_prefixes(base.recipe) - logged
    assert not missing, f"no metrics from {sorted(missing)}; logged: {sorted(logged)}"
    if name in POLICY_PHASE_LEARNERS:  # metrics of steps between log lines are kept, not lost
        names = {m.name for m in run.metrics()}
        during = {
            n
            for n in names
            if n.startswith("model_learner/")
            and not n.startswith(("model_learner/final_", "model_learner/pretrain/"))
        }
        assert during, f"{name}: no policy-phase model_learner metrics; logged: {sorted(names)}"
