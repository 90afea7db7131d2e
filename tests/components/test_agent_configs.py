"""Agent component configs: torch-free import, registration, defaults and constraints."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from components.actor_objectives.sac import SacActorConfig
from components.critic_targets.penalized_sac import PenalizedSacConfig
from components.critic_targets.sac import SacCriticTargetConfig
from components.plugin import BUILTIN_MODULES
from components.policies.tanh_gaussian import TanhGaussianConfig
from components.uncertainty.bellman_inconsistency import BellmanInconsistencyConfig

MODULES = (
    "policies.tanh_gaussian",
    "critic_targets.sac",
    "critic_targets.penalized_sac",
    "actor_objectives.sac",
    "uncertainty.bellman_inconsistency",
)


def test_configs_import_without_torch() -> None:
    code = (
        "import sys\n"
        + "".join(f"import components.{m}\n" for m in MODULES)
        + "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_registered_as_builtins() -> None:
    assert set(MODULES) <= set(BUILTIN_MODULES)


def test_log_prob_flags() -> None:
    assert TanhGaussianConfig.has_log_prob is True
    for cfg in (SacCriticTargetConfig, PenalizedSacConfig, SacActorConfig):
        assert cfg.needs_log_prob is True


def test_defaults_and_constraints() -> None:
    assert TanhGaussianConfig().hidden == [256, 256]
    assert BellmanInconsistencyConfig().samples == 10
    assert BellmanInconsistencyConfig().members == "elites"  # MOBILE code: elites
    assert SacActorConfig().target_entropy == "auto"
    with pytest.raises(ValidationError):
        BellmanInconsistencyConfig(samples=0)
    with pytest.raises(ValidationError):
        SacActorConfig(alpha=0.0)
    with pytest.raises(ValidationError):
        SacCriticTargetConfig(min_over="some")
    with pytest.raises(ValidationError):
        TanhGaussianConfig(activation="nope")
