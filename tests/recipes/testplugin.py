"""A tiny torch-free plugin for recipe tests: one or two configs of every kind.

Registered with ``load_plugins(extra=[("testplugin", testplugin)], entry_points=False)`` so
the recipe tests do not depend on the built-in components being written concurrently.
The names mirror the built-ins (``sac``, ``penalized_sac``, ...) so messages read naturally.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from compose.hookspecs import hookimpl
from compose.registry import ComponentConfig, Registry
from compose.slots import ModelAuxLossSlot, UncertaintySlot


class Gaussian(ComponentConfig):
    """A test dynamics ensemble."""

    kind: ClassVar[str] = "dynamics"
    type: Literal["gaussian_ensemble"] = "gaussian_ensemble"
    members: int = Field(7, gt=0, description="ensemble size")
    elites: int = Field(5, gt=0)
    hidden: list[int] = Field(default_factory=lambda: [200, 200])


class Mle(ComponentConfig):
    """A test model learner with model aux losses."""

    kind: ClassVar[str] = "model_learner"
    type: Literal["mle"] = "mle"
    lr: float = Field(1e-3, gt=0, lt=1)
    aux_losses: list[ModelAuxLossSlot] = Field(default_factory=list)


class Bilevel(ComponentConfig):
    """A test model learner holding a nested outer aux loss."""

    kind: ClassVar[str] = "model_learner"
    type: Literal["bilevel_reweighted"] = "bilevel_reweighted"
    outer: ModelAuxLossSlot


class ValueInconsistency(ComponentConfig):
    """A test model aux loss."""

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("model",)
    type: Literal["value_inconsistency"] = "value_inconsistency"
    weight: float = Field(0.5, ge=0)


class ConservativeQ(ComponentConfig):
    """A test critic aux loss."""

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("critic",)
    type: Literal["conservative_q"] = "conservative_q"
    weight: float = Field(1.0, ge=0)


class BehaviorClone(ComponentConfig):
    """A test actor aux loss."""

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("actor",)
    type: Literal["behavior_clone"] = "behavior_clone"
    weight: float = Field(1.0, ge=0)


class MaxAleatoric(ComponentConfig):
    """A test uncertainty."""

    kind: ClassVar[str] = "uncertainty"
    type: Literal["max_aleatoric"] = "max_aleatoric"


class BellmanInconsistency(ComponentConfig):
    """A test uncertainty with a sample count."""

    kind: ClassVar[str] = "uncertainty"
    type: Literal["bellman_inconsistency"] = "bellman_inconsistency"
    samples: int = Field(10, gt=0)


class NoShaping(ComponentConfig):
    """A test reward shaper that does nothing."""

    kind: ClassVar[str] = "reward_shaper"
    type: Literal["none"] = "none"


class UncertaintyPenalty(ComponentConfig):
    """A test reward shaper r - weight * u."""

    kind: ClassVar[str] = "reward_shaper"
    type: Literal["uncertainty_penalty"] = "uncertainty_penalty"
    weight: float = Field(1.0, ge=0)
    uncertainty: UncertaintySlot = Field(default="max_aleatoric")  # type: ignore[assignment]


class SacTarget(ComponentConfig):
    """A test SAC critic target."""

    kind: ClassVar[str] = "critic_target"
    needs_log_prob: ClassVar[bool] = True
    type: Literal["sac"] = "sac"


class PenalizedSac(ComponentConfig):
    """A test MOBILE critic target with a nested uncertainty."""

    kind: ClassVar[str] = "critic_target"
    needs_log_prob: ClassVar[bool] = True
    type: Literal["penalized_sac"] = "penalized_sac"
    beta: float = Field(gt=0)
    uncertainty: UncertaintySlot


class MixedMinMax(ComponentConfig):
    """A test AMPL-like critic target without entropy."""

    kind: ClassVar[str] = "critic_target"
    needs_log_prob: ClassVar[bool] = False
    type: Literal["mixed_min_max"] = "mixed_min_max"
    c: float = Field(0.75, ge=0, le=1)


class SacActor(ComponentConfig):
    """A test SAC actor objective."""

    kind: ClassVar[str] = "actor_objective"
    needs_log_prob: ClassVar[bool] = True
    type: Literal["sac"] = "sac"
    target_entropy: float | None = None
    alpha_lr: float = Field(1e-4, gt=0, lt=1)


class QNormalized(ComponentConfig):
    """A test actor objective without entropy."""

    kind: ClassVar[str] = "actor_objective"
    needs_log_prob: ClassVar[bool] = False
    type: Literal["q_normalized"] = "q_normalized"
    alpha: float = Field(2.5, gt=0)


class TanhGaussian(ComponentConfig):
    """A test stochastic policy."""

    kind: ClassVar[str] = "policy"
    type: Literal["tanh_gaussian"] = "tanh_gaussian"
    hidden: list[int] = Field(default_factory=lambda: [256, 256])


class Implicit(ComponentConfig):
    """A test implicit policy with no density."""

    kind: ClassVar[str] = "policy"
    has_log_prob: ClassVar[bool] = False
    type: Literal["implicit"] = "implicit"
    noise_dim: int = Field(8, gt=0)


class ToyData(ComponentConfig):
    """A test dataset source."""

    kind: ClassVar[str] = "dataset"
    source: Literal["toy"] = "toy"
    id: str = Field(min_length=1)


CONFIGS: tuple[type[ComponentConfig], ...] = (
    Gaussian,
    Mle,
    Bilevel,
    ValueInconsistency,
    ConservativeQ,
    BehaviorClone,
    MaxAleatoric,
    BellmanInconsistency,
    NoShaping,
    UncertaintyPenalty,
    SacTarget,
    PenalizedSac,
    MixedMinMax,
    SacActor,
    QNormalized,
    TanhGaussian,
    Implicit,
)


@hookimpl
def compose_register_components(registry: Registry) -> None:
    """Register the test components."""
    for config in CONFIGS:
        registry.add(config)


@hookimpl
def compose_register_dataset_sources(registry: Registry) -> None:
    """Register the test dataset source."""
    registry.add(ToyData)
