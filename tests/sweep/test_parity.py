"""experiments/parity: recipe -> OfflineRL-Kit flags, the old-gym env wrapper, the table."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.helpers.runs import ROOT

PARITY = Path(ROOT) / "experiments" / "parity"


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"parity_{name}", PARITY / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _flag(flags: list[str], name: str) -> str:
    return flags[flags.index(name) + 1]


def test_mopo_flags_carry_the_recipe_values_not_the_script_defaults() -> None:
    compare = _module("compare")
    recipe = compare.resolved(
        "mopo", ["dataset.id=compose/halfcheetah/medium-v0", "model_learner.max_updates=500"]
    )
    flags = compare.driver_flags(recipe, "mopo")
    # MOPO Table 4 (halfcheetah-medium: h 1, lambda 1) and MOPO code's SAC, not run_mopo.py's
    assert _flag(flags, "--rollout-length") == "1"
    assert float(_flag(flags, "--penalty-coef")) == 1.0
    assert float(_flag(flags, "--actor-lr")) == 3e-4
    assert float(_flag(flags, "--alpha-lr")) == 3e-4
    assert float(_flag(flags, "--target-entropy")) == -3.0
    assert _flag(flags, "--lr-schedule") == "none"
    assert _flag(flags, "--model-updates") == "500"
    assert "--model-max-epochs" not in flags


def test_mobile_flags_fold_gamma_into_beta_and_keep_the_soft_backup() -> None:
    compare = _module("compare")
    flags = compare.driver_flags(
        compare.resolved("mobile", ["dataset.id=compose/walker2d/medium-v0"]), "mobile"
    )
    assert float(_flag(flags, "--real-ratio")) == 0.5
    assert _flag(flags, "--rollout-length") == "2"
    assert float(_flag(flags, "--penalty-coef")) == pytest.approx(0.5 * 0.99)
    assert _flag(flags, "--deterministic-backup") == "false"
    assert _flag(flags, "--model-updates") == "0"  # no cap: both stopping rules
    assert "--target-entropy" not in flags  # auto = -dim(A) in both


def test_a_recipe_value_the_reference_cannot_run_stops_the_batch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    compare = _module("compare")
    code = compare.main(
        [
            "--algos",
            "mopo",
            "--tasks",
            "compose/halfcheetah/medium-v0",
            "--seeds",
            "0",
            "--model-updates",
            "10",
            "--steps",
            "20",
            "--eval-every",
            "10",
            "--out",
            "unused",
            "--set",
            "dynamics.spectral_norm=true",
            "--dry-run",
        ]
    )
    assert code == 2
    assert "dynamics.spectral_norm" in capsys.readouterr().err


def test_old_gym_api_reports_truncation_as_done_and_reseeds_every_evaluation() -> None:
    driver = _module("run_offlinerlkit")
    env = driver.OldGymApi("Pendulum-v1", seed=7, ref_min=0.0, ref_max=100.0)
    first = []
    for _ in range(2):
        env.begin_evaluation()
        first.append(env.reset())
        done, steps = False, 0
        while not done:
            obs, reward, done, info = env.step(np.zeros(1, dtype=np.float32))
            steps += 1
        assert steps == 200  # Pendulum's time limit: old gym's TimeLimit said done
    assert np.array_equal(first[0], first[1])  # episode k of every evaluation: seed + k
    assert env.get_normalized_score(50.0) == pytest.approx(0.5)


def test_table_flags_disjoint_intervals_and_reads_both_outputs(tmp_path: Path) -> None:
    table = _module("table")
    for seed, (ours, ref) in enumerate([(10.0, 40.0), (12.0, 42.0), (11.0, 41.0)]):
        run = f"mopo__halfcheetah-medium__s{seed}"
        (tmp_path / "compose" / run).mkdir(parents=True)
        (tmp_path / "compose" / run / "summary.json").write_text(
            json.dumps(
                {
                    "status": "finished",
                    "wall_time_s": 100.0,
                    "model_phase_s": 40.0,
                    "steps": 1000,
                    "steps_per_s": 20.0,
                    "model_metrics": {"updates": 500.0},
                    "evals": [
                        {"step": 500.0, "eval/normalized_score": ours - 5},
                        {"step": 1000.0, "eval/normalized_score": ours},
                    ],
                }
            )
        )
        (tmp_path / "offlinerlkit" / run).mkdir(parents=True)
        (tmp_path / "offlinerlkit" / run / "result.json").write_text(
            json.dumps(
                {
                    "wall": {"total_s": 90.0, "model_s": 30.0, "policy_s": 50.0, "eval_s": 5.0},
                    "model": {"updates": 500},
                    "evals": [
                        {"step": 500, "normalized_score": ref + 5},
                        {"step": 1000, "normalized_score": ref},
                    ],
                }
            )
        )
    rows = table.summarize(table.collect(tmp_path))
    by_system = {r["system"]: r for r in rows}
    assert by_system["compose"]["final_mean"] == pytest.approx(11.0)
    assert by_system["offlinerlkit"]["best_mean"] == pytest.approx(46.0)
    assert by_system["compose"]["policy_s"] == pytest.approx(50.0)  # steps / steps_per_s
    assert by_system["offlinerlkit"]["policy_s"] == pytest.approx(55.0)  # loop + evaluations
    text = table.markdown(rows)
    assert "final compose - OfflineRL-Kit = -30.0 (intervals disjoint" in text


def test_bootstrap_interval_brackets_the_mean() -> None:
    table = _module("table")
    lo, hi = table.bootstrap_ci([1.0, 2.0, 3.0])
    assert 1.0 <= lo <= 2.0 <= hi <= 3.0
    assert table.bootstrap_ci([4.0]) == (4.0, 4.0)
