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
from tests.helpers.runs import DATASET, ROOT, read_run

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

SHRINK = (
    "dynamics.hidden=[32,32]",
    "dynamics.weight_decay=[0,0,0]",
    "dynamics.members=4",
    "dynamics.elites=3",
    # model learners: each reads only the knobs it has
    "model_learner.max_epochs=2",
    "model_learner.max_updates=60",
    "model_learner.pretrain_epochs=1",
    "model_learner.every=20",
    "model_learner.updates=2",
    "model_learner.retrain_every=30",
    "model_learner.miw_steps=3",
    "model_learner.model_steps=3",
    "model_learner.miw_hidden=[32,32]",
    "model_learner.weight_hidden=[32]",
    "model_learner.outer.samples=2",
    "model_learner.aux_losses.0.hidden=[32,32]",
    "model_learner.aux_losses.0.samples=2",
    "model_learner.aux_losses.0.horizon=2",
    # planners
    "critic_target.uncertainty.samples=2",
    "reward_shaper.hidden=[32,32]",
    "reward_shaper.uncertainty.samples=2",
    "actor.aux_losses.0.hidden=[32,32]",
    "critic.aux_losses.0.num_actions=2",
    "policy_pretrain.steps=20",
    "policy_pretrain.batch_size=32",
    # the run
    "rollout.batch_size=64",
    "rollout.every=20",
    "rollout.length=2",
    "train.steps=40",
    "train.batch_size=32",
    "train.log_every=20",
    "eval.every=1000",
    "eval.episodes=1",
    "checkpoint.every=1000",
    "critic.hidden=[32,32]",
    "policy.hidden=[32,32]",
    "runtime.deterministic=true",
    "runtime.threads=1",
)


def run_tiny(name: str, run_dir: Path, *sets: str) -> tuple[dict, str]:
    """``compose run NAME`` on the tiny pendulum data with SHRINK, no tracking, in-process.

    Returns (summary.json, console output). The caller sets MINARI_DATASETS_PATH and cwd.
    """
    dataset = f"dataset={{source: minari, id: {DATASET}}}"
    base = load_recipe(name, [dataset], plugins=load_plugins())
    args = ["run", name, "--run-dir", str(run_dir), "--no-track"]
    for s in [dataset, *applicable_overrides(SHRINK, base.recipe), *sets]:
        args += ["--set", s]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output[-3000:]
    return json.loads((run_dir / "summary.json").read_text()), res.output


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
