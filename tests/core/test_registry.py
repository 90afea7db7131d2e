"""The registry: registration rules, lookup, did-you-mean, nested slots."""

from __future__ import annotations

from typing import ClassVar, Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from compose.registry import ComponentConfig, RegistrationError, Registry, suggest
from compose.slots import CriticAuxLossSlot, UncertaintySlot


class MaxAleatoric(ComponentConfig):
    """Max aleatoric std."""

    kind: ClassVar[str] = "uncertainty"
    type: Literal["max_aleatoric"] = "max_aleatoric"


class Penalty(ComponentConfig):
    """r - lambda u."""

    kind: ClassVar[str] = "reward_shaper"
    type: Literal["uncertainty_penalty"] = "uncertainty_penalty"
    penalty: float = Field(1.0, ge=0)
    uncertainty: UncertaintySlot = "max_aleatoric"  # type: ignore[assignment]


class CriticAux(ComponentConfig):
    """A critic-only aux loss."""

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("critic",)
    type: Literal["conservative_q"] = "conservative_q"


class ActorAux(ComponentConfig):
    """An actor-only aux loss."""

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("actor",)
    type: Literal["discriminator"] = "discriminator"


class Holder(BaseModel):
    shaper: Penalty
    aux: list[CriticAuxLossSlot] = []


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    with reg.origin("test-dist"):
        for cls in (MaxAleatoric, Penalty, CriticAux, ActorAux):
            reg.add(cls)
    reg.finalize()
    return reg


def test_lookup_and_origin(registry: Registry) -> None:
    spec = registry.get("uncertainty", "max_aleatoric")
    assert spec.config is MaxAleatoric
    assert spec.origin == "test-dist"
    assert spec.doc == "Max aleatoric std."
    assert registry.names("aux_loss") == ["conservative_q", "discriminator"]
    assert registry.kinds_of("max_aleatoric") == ["uncertainty"]


def test_unknown_name_suggests(registry: Registry) -> None:
    with pytest.raises(KeyError, match="did you mean 'max_aleatoric'"):
        registry.get("uncertainty", "max_aleatorik")
    assert suggest("penalised_sac", ["penalized_sac", "sac"]) == ["penalized_sac"]


def test_duplicate_name_names_both_origins(registry: Registry) -> None:
    class Again(ComponentConfig):
        kind: ClassVar[str] = "uncertainty"
        type: Literal["max_aleatoric"] = "max_aleatoric"

    with registry.origin("other-dist"), pytest.raises(RegistrationError) as err:
        registry.add(Again)
    assert "test-dist" in str(err.value) and "other-dist" in str(err.value)


@pytest.mark.parametrize(
    "body, message",
    [
        (
            {"kind": "nonsense", "__annotations__": {"type": Literal["x"]}, "type": "x"},
            "unknown kind",
        ),
        ({"kind": "uncertainty"}, "needs a field"),
        (
            {"kind": "aux_loss", "__annotations__": {"type": Literal["y"]}, "type": "y"},
            "attaches_to",
        ),
    ],
)
def test_bad_component_classes_are_refused(body: dict, message: str) -> None:
    body = {"__annotations__": {}, **body}
    body["__annotations__"]["kind"] = ClassVar[str]
    cls = type("Bad", (ComponentConfig,), body)
    with pytest.raises(RegistrationError, match=message):
        Registry().add(cls)


def test_not_a_config_is_refused() -> None:
    with pytest.raises(RegistrationError, match="not a ComponentConfig"):
        Registry().add(dict)  # type: ignore[arg-type]


def test_nested_slot_validates_and_accepts_shorthand(registry: Registry) -> None:
    cfg = Penalty.model_validate({"penalty": 2.0, "uncertainty": "max_aleatoric"})
    assert isinstance(cfg.uncertainty, MaxAleatoric)
    with pytest.raises(ValidationError) as err:
        Penalty.model_validate({"uncertainty": {"type": "max_aleatorik"}})
    (e,) = err.value.errors()
    assert e["type"] == "union_tag_invalid"
    assert e["ctx"]["tag"] == "max_aleatorik"


def test_aux_slot_only_accepts_its_attach_point(registry: Registry) -> None:
    with registry.active():
        Holder.model_rebuild(force=True)
    ok = Holder.model_validate({"shaper": {}, "aux": ["conservative_q"]})
    assert isinstance(ok.aux[0], CriticAux)
    with pytest.raises(ValidationError) as err:
        Holder.model_validate({"shaper": {}, "aux": ["discriminator"]})
    assert err.value.errors()[0]["type"] == "union_tag_invalid"


def test_configs_are_frozen_and_strict(registry: Registry) -> None:
    cfg = Penalty()
    with pytest.raises(ValidationError):
        cfg.penalty = 3.0  # type: ignore[misc]
    with pytest.raises(ValidationError) as err:
        Penalty.model_validate({"penalty": 1.0, "penaltyy": 2.0})
    assert err.value.errors()[0]["type"] == "extra_forbidden"


def test_nested_slots_follow_the_active_registry() -> None:
    """A config class shared by two registries validates its nested slot against the active one."""
    import pydantic

    from components.aux_losses.value_inconsistency import ValueInconsistencyConfig
    from components.model_learners.mle import MLEConfig
    from compose.registry import Registry

    with_aux, without_aux = Registry(), Registry()
    for reg, configs in (
        (with_aux, (MLEConfig, ValueInconsistencyConfig)),
        (without_aux, (MLEConfig,)),
    ):
        with reg.origin("tests"):
            for config in configs:
                reg.add(config)
        reg.finalize()
    entry = {"aux_losses": [{"type": "value_inconsistency"}]}
    with with_aux.active():
        assert MLEConfig(**entry).aux_losses[0].type == "value_inconsistency"
    with (
        without_aux.active(),
        pytest.raises(pydantic.ValidationError, match="no aux_loss component"),
    ):
        MLEConfig(**entry)
    with with_aux.active():  # and back again
        assert len(MLEConfig(**entry).aux_losses) == 1
    from compose.plugins import load_plugins

    with load_plugins().registry.active():  # leave the shared classes built for the real one
        pass
