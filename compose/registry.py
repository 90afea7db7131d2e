"""The component registry: kinds, config base class, registration and lookup.

Every component — built-in or from a plugin — is a frozen Pydantic config class with a
literal ``type`` tag (``source`` for datasets) and a ``build(ctx)`` method that makes the
runtime object. The registry maps (kind, name) to that class and to the distribution that
registered it. Recipe slots are discriminated unions built from the registry at validation
time (see :class:`Slot`), so a plugin's component validates exactly like a built-in one.

Why: configs import no torch (implementations import it lazily inside ``build``), so a
recipe is validated completely before torch is touched.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError, core_schema

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler

__all__ = [
    "KINDS",
    "ATTACH_POINTS",
    "ComponentConfig",
    "ComponentSpec",
    "KindSpec",
    "Registry",
    "RegistrationError",
    "Slot",
    "active_registry",
    "suggest",
]


@dataclass(frozen=True)
class KindSpec:
    """One kind of component: its name, the tag field that selects a component, and its role."""

    name: str
    doc: str
    tag: str = "type"


KINDS: dict[str, KindSpec] = {
    k.name: k
    for k in (
        KindSpec("dynamics", "the model P(s', r, done | s, a)"),
        KindSpec(
            "model_learner", "fits the dynamics: pretraining and updates during policy learning"
        ),
        KindSpec(
            "aux_loss",
            "an extra differentiable term attached to the model, the critic or the actor",
        ),
        KindSpec("uncertainty", "u(s, a) per sample"),
        KindSpec("reward_shaper", "turns model-transition rewards into training rewards"),
        KindSpec("critic_target", "the target and loss of the critic update"),
        KindSpec("actor_objective", "the actor loss (and its temperature)"),
        KindSpec("policy", "the actor network"),
        KindSpec("dataset", "where the offline data comes from", tag="source"),
    )
}

#: Where an aux loss can be attached; an aux loss declares the subset it supports.
ATTACH_POINTS = ("model", "critic", "actor")


class RegistrationError(Exception):
    """A component could not be registered (bad class, unknown kind, clashing name)."""


class ComponentConfig(BaseModel):
    """Base of every component config: frozen, no unknown keys, a literal tag, ``build(ctx)``.

    Subclasses set ``kind`` (a key of :data:`KINDS`) and a ``type`` field (``source`` for
    datasets) typed ``Literal["name"]`` with that name as default. Aux losses also set
    ``attaches_to``. ``build(ctx)`` imports its implementation lazily and returns it.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", defer_build=True, validate_default=True, allow_inf_nan=False
    )

    kind: ClassVar[str]
    attaches_to: ClassVar[tuple[str, ...]] = ()

    # Capabilities: declared here once, overridden by the config classes they concern, and
    # read from the config (class) by the recipe schema and the trainer, never discovered
    # on the runtime object.
    #: policy: the policy has a tractable density log pi(a | s) (False: an implicit policy;
    #: the schema then refuses objectives that need log pi and ``policy_pretrain.loss: nll``).
    has_log_prob: ClassVar[bool] = True
    #: actor_objective, critic_target: the loss reads log pi (an entropy term).
    needs_log_prob: ClassVar[bool] = False
    #: model_learner: fields that act only in the policy phase, so the fitted model (and its
    #: cache key, compose.train.model_phase.model_cache_key) does not depend on them.
    policy_phase_fields: ClassVar[frozenset[str]] = frozenset()

    def trains_in_policy_phase(self) -> bool:
        """model_learner: whether the built learner's ``update`` changes the model during the
        policy phase (a run that does cannot be seed-batched); default False."""
        return False

    def build(self, ctx: Any) -> Any:
        """Make the runtime component from this config and a build context."""
        raise NotImplementedError(f"{type(self).__name__}.build is not implemented")

    @classmethod
    def component_name(cls) -> str:
        """The registered name: the default of the tag field."""
        tag = KINDS[cls.kind].tag
        field = cls.model_fields.get(tag)
        if field is None or not isinstance(field.default, str):
            raise RegistrationError(
                f"{cls.__module__}.{cls.__qualname__}: a component config needs a field "
                f'\'{tag}: Literal["name"] = "name"\''
            )
        return field.default


@dataclass(frozen=True)
class ComponentSpec:
    """A registered component: kind, name, config class and the distribution that gave it."""

    kind: str
    name: str
    config: type[ComponentConfig]
    origin: str

    @property
    def doc(self) -> str:
        """The first line of the config's docstring."""
        text = (self.config.__doc__ or "").strip()
        return text.splitlines()[0] if text else ""


def suggest(name: str, choices: list[str] | tuple[str, ...], n: int = 3) -> list[str]:
    """Close matches for a misspelt name (did-you-mean)."""
    return difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)


class Registry:
    """Components by kind and name. Duplicate names are a hard error naming both origins."""

    def __init__(self) -> None:
        self._specs: dict[tuple[str, str], ComponentSpec] = {}
        self._origin = "<unknown>"
        self._finalized = False

    @contextlib.contextmanager
    def origin(self, name: str) -> Iterator[None]:
        """Attribute registrations made inside the block to the distribution ``name``."""
        previous, self._origin = self._origin, name
        try:
            yield
        finally:
            self._origin = previous

    def add(self, config: type[ComponentConfig]) -> type[ComponentConfig]:
        """Register a config class under its kind and tag name; returns the class."""
        if not (isinstance(config, type) and issubclass(config, ComponentConfig)):
            raise RegistrationError(f"{config!r} is not a ComponentConfig subclass")
        kind = getattr(config, "kind", None)
        if kind not in KINDS:
            raise RegistrationError(
                f"{config.__module__}.{config.__qualname__}: unknown kind {kind!r}; "
                f"kinds are {', '.join(KINDS)}"
            )
        if kind == "aux_loss":
            bad = [p for p in config.attaches_to if p not in ATTACH_POINTS] or (
                [] if config.attaches_to else ["(none)"]
            )
            if bad:
                raise RegistrationError(
                    f"{config.__qualname__}: attaches_to must name some of {ATTACH_POINTS}, "
                    f"got {config.attaches_to!r}"
                )
        name = config.component_name()
        key = (kind, name)
        if key in self._specs:
            other = self._specs[key]
            raise RegistrationError(
                f"{kind} '{name}' is registered twice: by '{other.origin}' "
                f"({other.config.__module__}) and by '{self._origin}' ({config.__module__})"
            )
        self._specs[key] = ComponentSpec(kind, name, config, self._origin)
        return config

    def get(self, kind: str, name: str) -> ComponentSpec:
        """The spec of (kind, name); KeyError with a did-you-mean otherwise."""
        try:
            return self._specs[(kind, name)]
        except KeyError:
            hint = suggest(name, self.names(kind))
            extra = f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
            raise KeyError(f"unknown {kind} component {name!r}{extra}") from None

    def names(self, kind: str) -> list[str]:
        """Registered names of one kind, sorted."""
        return sorted(n for k, n in self._specs if k == kind)

    def specs(self, kind: str | None = None) -> list[ComponentSpec]:
        """All specs, or those of one kind, sorted by kind then name."""
        return sorted(
            (s for s in self._specs.values() if kind is None or s.kind == kind),
            key=lambda s: (s.kind, s.name),
        )

    def kinds_of(self, name: str) -> list[str]:
        """Every kind under which ``name`` is registered (for wrong-kind messages)."""
        return sorted(k for k, n in self._specs if n == name)

    def keys(self) -> set[tuple[str, str]]:
        """The (kind, name) of every registered component."""
        return set(self._specs)

    def drop(self, keys: set[tuple[str, str]]) -> None:
        """Unregister components (those of a plugin that failed half-way)."""
        for key in keys:
            self._specs.pop(key, None)

    def finalize(self) -> list[tuple[ComponentSpec, str]]:
        """Rebuild every config's schema against this registry (nested slots included).

        A config whose schema pydantic cannot build, or whose field defaults do not
        validate, is unregistered (until none is left): returns each with the reason, for
        the plugin loader to report against its distribution.
        """
        failed: list[tuple[ComponentSpec, str]] = []
        global _ACTIVE
        previous, _ACTIVE = _ACTIVE, self
        try:
            while bad := self._try_rebuild():
                for spec, message in bad:
                    self._specs.pop((spec.kind, spec.name), None)
                    failed.append((spec, message))
        finally:
            _ACTIVE = previous
        self._finalized = True
        return failed

    def _try_rebuild(self) -> list[tuple[ComponentSpec, str]]:
        global _BUILT_FOR
        _BUILT_FOR = self
        bad: list[tuple[ComponentSpec, str]] = []
        for spec in list(self._specs.values()):
            try:
                spec.config.model_rebuild(force=True)
            except Exception as exc:  # noqa: BLE001 - any schema error of a plugin's config
                bad.append(
                    (
                        spec,
                        f"pydantic cannot build its config: {type(exc).__name__}: {_first_line(exc)}",
                    )
                )
        if bad:
            return bad
        for spec in list(self._specs.values()):
            message = _bad_default(spec.config)
            if message is not None:
                bad.append((spec, message))
        return bad

    def _rebuild(self) -> None:
        global _BUILT_FOR
        _BUILT_FOR = self
        for spec in self._specs.values():
            spec.config.model_rebuild(force=True)

    @contextlib.contextmanager
    def active(self) -> Iterator[Registry]:
        """Make this registry the one that :class:`Slot` schemas are built from.

        Config classes are shared between registries, and a nested slot's union lives in its
        class's schema; so activating a finalized registry other than the one those schemas
        were last built for rebuilds them (only tests hold several registries).
        """
        global _ACTIVE
        previous, _ACTIVE = _ACTIVE, self
        try:
            if self._finalized and _BUILT_FOR is not self:
                self._rebuild()
            yield self
        finally:
            _ACTIVE = previous


_ACTIVE: Registry | None = None
_BUILT_FOR: Registry | None = None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _bad_default(config: type[ComponentConfig]) -> str | None:
    """Why a config's own defaults do not validate (checked once, at plugin load), or None.

    Why: with ``validate_default`` a bad default would otherwise fail every recipe that
    uses the component, blamed on the recipe's line instead of on the plugin.
    """
    from pydantic import ValidationError

    try:
        config.model_validate({})
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            if err["type"] == "missing" or not loc or loc[0] not in config.model_fields:
                continue
            field = str(loc[0])
            info = config.model_fields[field]
            default = info.default if info.default_factory is None else "(default factory)"
            return (
                f"the default of field '{field}' ({default!r}) does not validate: {err['msg']}; "
                "fix the default in the config class"
            )
    except Exception as exc:  # noqa: BLE001 - a validator of the plugin's that raises
        return f"validating its defaults raised {type(exc).__name__}: {_first_line(exc)}"
    return None


def active_registry() -> Registry:
    """The registry slots are built from (set by :meth:`Registry.active`)."""
    if _ACTIVE is None:
        from compose.plugins import load_plugins

        return load_plugins().registry
    return _ACTIVE


@dataclass(frozen=True)
class Slot:
    """Annotation marker: a field holding a component of ``kind`` (a discriminated union).

    Use as ``Annotated[ComponentConfig, Slot("uncertainty")]`` (or the aliases in
    :mod:`compose.slots`). ``attach`` restricts aux losses to those attachable there.
    A bare string is shorthand for ``{type: that-string}``.
    """

    kind: str
    attach: str | None = None

    def choices(self, registry: Registry) -> list[ComponentSpec]:
        """The registered components this slot accepts."""
        return [
            s
            for s in registry.specs(self.kind)
            if self.attach is None or self.attach in s.config.attaches_to
        ]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        tag = KINDS[self.kind].tag
        specs = self.choices(active_registry())
        shorthand = core_schema.no_info_before_validator_function(
            _shorthand(tag), core_schema.any_schema()
        )
        if not specs:
            return core_schema.chain_schema(
                [shorthand, core_schema.no_info_plain_validator_function(_no_components(self))]
            )
        choices = {s.name: handler.generate_schema(s.config) for s in specs}
        union = core_schema.tagged_union_schema(
            choices,
            discriminator=tag,
            ref=None,
            metadata={"compose_slot": {"kind": self.kind, "attach": self.attach}},
        )
        return core_schema.no_info_before_validator_function(_shorthand(tag), union)


def _shorthand(tag: str) -> Callable[[Any], Any]:
    def expand(value: Any) -> Any:
        if isinstance(value, str):
            return {tag: value}
        if isinstance(value, BaseModel):
            return value.model_dump()
        return value

    return expand


def _no_components(slot: Slot) -> Callable[[Any], Any]:
    def fail(value: Any) -> Any:
        raise PydanticCustomError(
            "no_components",
            "no {kind} component is registered{where}",
            {"kind": slot.kind, "where": f" for '{slot.attach}'" if slot.attach else ""},
        )

    return fail


def slot_type(kind: str, attach: str | None = None) -> Any:
    """``Annotated[ComponentConfig, Slot(kind, attach)]``: the type of a component field."""
    return Annotated[ComponentConfig, Slot(kind, attach)]
