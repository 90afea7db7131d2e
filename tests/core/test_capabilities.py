"""A component's capabilities are declared once, on its config class (compose.registry).

``has_log_prob``, ``needs_log_prob``, ``policy_phase_fields`` and ``trains_in_policy_phase``
are read from the config by the recipe schema and the trainer; a runtime class that declared
them too would be a second place to keep in sync.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from compose.kinds import Component
from compose.registry import ComponentConfig

CAPABILITIES = ("has_log_prob", "needs_log_prob", "policy_phase_fields", "trains_in_policy_phase")


def _runtime_classes() -> list[type]:
    """Every runtime component class in ``components/`` and the kinds' bases."""
    import components
    import compose.kinds

    seen: set[type] = set()
    for package in (components, compose.kinds):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            seen.update(
                c
                for _, c in inspect.getmembers(module, inspect.isclass)
                if issubclass(c, Component)
            )
    return sorted(seen, key=lambda c: c.__qualname__)


def test_runtime_classes_declare_no_capability() -> None:
    runtime = _runtime_classes()
    assert len(runtime) >= 10
    offenders = [
        f"{c.__module__}.{c.__qualname__}.{cap}"
        for c in runtime
        for klass in c.__mro__
        if issubclass(klass, Component)
        for cap in CAPABILITIES
        if cap in vars(klass)
    ]
    assert not offenders, f"declare these on the config class instead: {sorted(set(offenders))}"


def test_defaults_on_the_config_base() -> None:
    assert ComponentConfig.has_log_prob is True
    assert ComponentConfig.needs_log_prob is False
    assert ComponentConfig.policy_phase_fields == frozenset()


@pytest.mark.parametrize(("updates", "trains"), [(0, False), (5, True)])
def test_bilevel_learner_trains_in_policy_phase_per_its_config(updates: int, trains: bool) -> None:
    from components.model_learners.bilevel_reweighted import BilevelReweightedConfig
    from components.model_learners.miw_weighted import MIWWeightedConfig
    from components.model_learners.mle import MLEConfig

    assert BilevelReweightedConfig(updates=updates).trains_in_policy_phase() is trains
    assert MIWWeightedConfig().trains_in_policy_phase() is True
    assert MLEConfig().trains_in_policy_phase() is False
