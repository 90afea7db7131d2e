"""The built-in components' plugin: registered through the ``compose`` entry point.

Exactly the path a third-party plugin takes (see ``pyproject.toml``'s
``[project.entry-points.compose]``). Each module listed below is a torch-free config module;
every :class:`~compose.registry.ComponentConfig` subclass defined in it is registered.
"""

from __future__ import annotations

import importlib
import inspect

from compose.hookspecs import hookimpl
from compose.registry import ComponentConfig, Registry

#: Config modules of the built-in components, relative to this package.
BUILTIN_MODULES: tuple[str, ...] = (
    "policies.tanh_gaussian",
    "critic_targets.sac",
    "critic_targets.penalized_sac",
    "actor_objectives.sac",
    "uncertainty.bellman_inconsistency",
    "dynamics.gaussian_ensemble",
    "model_learners.mle",
    "uncertainty.max_aleatoric",
    "uncertainty.ensemble_std",
    "reward_shapers.none",
    "reward_shapers.uncertainty_penalty",
    "aux_losses.adversarial_value",
    "aux_losses.robust_value_aware",
    "model_learners.bilevel_reweighted",
    "model_learners.alternating_mle",
    "policies.implicit",
    "critic_targets.mixed_min_max",
    "actor_objectives.q_normalized",
    "aux_losses.rollout_discriminator",
    "aux_losses.conservative_q",
    "reward_shapers.classifier_log_ratio",
    "critic_targets.fdiv_dual",
    "actor_objectives.fdiv_dual",
    "aux_losses.value_inconsistency",
    "model_learners.miw_weighted",
)


def configs_in(module_name: str) -> list[type[ComponentConfig]]:
    """The component config classes defined (not imported) in a module."""
    module = importlib.import_module(module_name)
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, ComponentConfig)
        and obj.__module__ == module.__name__
        and "kind" in obj.__dict__
    ]


@hookimpl
def compose_register_components(registry: Registry) -> None:
    """Register every built-in component."""
    for name in BUILTIN_MODULES:
        for config in configs_in(f"components.{name}"):
            registry.add(config)
