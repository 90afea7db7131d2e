"""Tiny real runs for the comparison tests: MOPO (seeds 0, 1) and VIPO-MOPO (seeds 2, 3), one Aim repo.

Made once per session, in-process (click's runner), each recipe's two seeds as one batch
(``--seeds 0 1``), on the tiny pendulum dataset of tests/train, tracked into ``TMP/aim``.
Evaluations every 10 of 50 policy steps give each run a five-point learning curve.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers.compare import RECIPES, SEEDS
from tests.helpers.runs import ROOT, env, tiny

__all__ = ["RECIPES", "SEEDS", "env", "tiny_runs"]


# VIPO's value-inconsistency loss: the tiny settings of tests/train/test_recipes_e2e.py.
_VIPO_SHRINK = (
    "model_learner.aux_losses.0.hidden=[32,32]",
    "model_learner.aux_losses.0.samples=2",
    "model_learner.max_updates=60",
)


@pytest.fixture(scope="session")
def tiny_runs(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TMP with ``mopo/seed_{0,1}``, ``vipo_mopo/seed_{2,3}`` and the Aim repo ``aim``."""
    from compose.cli import cli

    tmp = tmp_path_factory.mktemp("compare")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
        mp.chdir(ROOT)
        for recipe in RECIPES:
            args = [
                "run",
                recipe,
                "--seeds",
                *(str(s) for s in SEEDS[recipe]),
                "--run-dir",
                str(tmp / recipe),
                *tiny(tmp),
                "--set",
                "eval.every=10",
                "--set",
                "checkpoint.every=1000",
            ]
            if recipe.startswith("vipo"):
                args += [a for s in _VIPO_SHRINK for a in ("--set", s)]
            res = CliRunner().invoke(cli, args, catch_exceptions=False)
            assert res.exit_code == 0, res.output[-3000:]
    return tmp
