"""The runtime contract of each kind, checked where components are built and first called.

``BuildContext.build`` hands every built component to :func:`checked`: the object must be an
instance of its kind's base class (:data:`BASES`) and implement every abstract method of it
(the bases are ``nn.Module``s, so Python's ABC machinery does not enforce them); the
methods in :data:`RETURNS` are wrapped so that their first call checks the type and shape of
what they return, then the wrapper removes itself (no cost after the first call).

Why: a plugin component that returns ``None`` from ``shape`` would otherwise end deep in the
trainer as ``cannot unpack non-iterable NoneType object``; the error names the kind, the
component and the distribution that registered it instead.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["BASES", "ComponentContractError", "RETURNS", "checked"]

#: kind -> (module, class) of the runtime base class its components must subclass.
BASES: dict[str, tuple[str, str]] = {
    "dynamics": ("compose.kinds.dynamics", "Dynamics"),
    "model_learner": ("compose.kinds.model_learner", "ModelLearner"),
    "aux_loss": ("compose.kinds.aux_loss", "AuxLoss"),
    "uncertainty": ("compose.kinds.uncertainty", "Uncertainty"),
    "reward_shaper": ("compose.kinds.reward_shaper", "RewardShaper"),
    "critic_target": ("compose.kinds.critic_target", "CriticTarget"),
    "actor_objective": ("compose.kinds.actor_objective", "ActorObjective"),
    "policy": ("compose.kinds.policy", "Policy"),
}


class ComponentContractError(Exception):
    """A component that breaks its kind's runtime contract (a plugin bug, not compose's)."""


def _tensor(x: Any) -> bool:
    import torch

    return isinstance(x, torch.Tensor)


def _shape(x: Any) -> str:
    return f"a tensor of shape {list(x.shape)}" if _tensor(x) else _what(x)


def _what(x: Any) -> str:
    if x is None:
        return "None"
    if isinstance(x, tuple):
        return f"a tuple of {len(x)}"
    return f"a {type(x).__name__}"


def _rows(obj: Any) -> int | None:
    """Rows of a batch-like argument: a tensor's first dim, a Batch's or transitions' obs."""
    if _tensor(obj):
        return int(obj.shape[0]) if obj.dim() > 0 else None
    obs = getattr(obj, "obs", None)
    return int(obs.shape[0]) if _tensor(obs) and obs.dim() > 0 else None


def _shaped(result: Any, args: tuple[Any, ...], _kw: dict[str, Any]) -> str | None:
    from compose.kinds.reward_shaper import Shaped

    if not isinstance(result, Shaped):
        return (
            f"returned {_what(result)}; it must return Shaped(rewards [B], diagnostics dict, "
            "terminate=None) (compose.kinds.Shaped)"
        )
    rows = _rows(args[0]) if args else None
    want = f"a tensor of shape [{rows or 'B'}]"
    rewards, terminate = result.rewards, result.terminate
    if not _tensor(rewards) or (rows is not None and tuple(rewards.shape) != (rows,)):
        return f"returned rewards as {_shape(rewards)}; they must be {want}"
    if not isinstance(result.diagnostics, dict):
        return (
            f"returned diagnostics as {_what(result.diagnostics)}; they must be a dict of tensors"
        )
    if terminate is not None and (
        not _tensor(terminate) or tuple(terminate.shape) != tuple(rewards.shape)
    ):
        return f"returned terminate as {_shape(terminate)}; it must be None or {want} (bool)"
    return None


def _per_row(result: Any, args: tuple[Any, ...], _kw: dict[str, Any]) -> str | None:
    obs = args[0] if args else None
    want = list(obs.shape[:-1]) if _tensor(obs) else ["B"]
    if not _tensor(result) or (_tensor(obs) and tuple(result.shape) != tuple(obs.shape[:-1])):
        return f"returned {_shape(result)}; it must return u(s, a) as a tensor of shape {want}"
    return None


def _loss_terms(result: Any, _args: tuple[Any, ...], _kw: dict[str, Any]) -> str | None:
    if not isinstance(result, dict) or not all(isinstance(k, str) for k in result):
        return f"returned {_what(result)}; it must return a dict of named tensors ('loss_*' terms)"
    bad = [k for k, v in result.items() if k.startswith("loss_") and not _tensor(v)]
    if bad:
        return f"returned '{bad[0]}' as {_what(result[bad[0]])}; 'loss_*' terms are tensors"
    if not any(k.startswith("loss_") for k in result):
        return "returned no 'loss_*' term; its loss must be under a key starting with 'loss_'"
    return None


def _metrics(result: Any, _args: tuple[Any, ...], _kw: dict[str, Any]) -> str | None:
    if not isinstance(result, dict):
        return f"returned {_what(result)}; it must return a dict of metrics (may be empty)"
    return None


def _policy_sample(result: Any, args: tuple[Any, ...], _kw: dict[str, Any]) -> str | None:
    from compose.kinds.policy import PolicySample

    if not isinstance(result, PolicySample):
        return f"returned {_what(result)}; it must return a PolicySample(actions, log_prob)"
    obs = args[0] if args else None
    if _tensor(obs) and (
        not _tensor(result.actions) or tuple(result.actions.shape[:-1]) != tuple(obs.shape[:-1])
    ):
        return (
            f"returned actions as {_shape(result.actions)} for observations of shape "
            f"{list(obs.shape)}; actions must be [..., act_dim] with the observations' batch dims"
        )
    return None


def _prediction(result: Any, _args: tuple[Any, ...], _kw: dict[str, Any]) -> str | None:
    from compose.kinds.types import Prediction

    if not isinstance(result, Prediction):
        return f"returned {_what(result)}; it must return a Prediction (mean, std, ... [E, B, obs_dim + 1])"
    return None


def _transitions(result: Any, args: tuple[Any, ...], _kw: dict[str, Any]) -> str | None:
    from compose.kinds.types import ModelTransitions

    if not isinstance(result, ModelTransitions):
        return f"returned {_what(result)}; it must return ModelTransitions"
    obs = args[0] if args else None
    if _tensor(obs) and (not _tensor(result.next_obs) or result.next_obs.shape != obs.shape):
        return (
            f"returned next_obs as {_shape(result.next_obs)}; it must match obs {list(obs.shape)}"
        )
    return None


def _member_log_prob(result: Any, _args: tuple[Any, ...], _kw: dict[str, Any]) -> str | None:
    if not _tensor(result) or result.dim() != 2:
        return f"returned {_shape(result)}; it must return log P per member, a tensor [E, B]"
    return None


Check = Callable[[Any, tuple[Any, ...], dict[str, Any]], "str | None"]

#: kind -> {method: check of its return value on the first call}.
RETURNS: dict[str, dict[str, Check]] = {
    "reward_shaper": {"shape": _shaped, "shape_sampled": _shaped},
    "uncertainty": {"forward": _per_row},
    "critic_target": {"loss": _loss_terms},
    "actor_objective": {"loss": _loss_terms},
    "aux_loss": {"loss": _loss_terms},
    "policy": {"forward": _policy_sample},
    "dynamics": {"predict": _prediction, "sample": _transitions, "log_prob": _member_log_prob},
    "model_learner": {"pretrain": _metrics, "update": _metrics},
}


def _label(config: Any) -> str:
    kind = getattr(config, "kind", "component")
    try:
        name = config.component_name()
    except Exception:  # noqa: BLE001 - only for the message
        name = type(config).__name__
    origin = _origin(kind, name)
    return f"{kind} '{name}'" + (f" (from '{origin}')" if origin else "")


def _origin(kind: str, name: str) -> str | None:
    from compose.registry import active_registry

    try:
        return active_registry().get(kind, name).origin
    except Exception:  # noqa: BLE001 - a component built outside a registry
        return None


def _abstract(base: type) -> list[str]:
    names = set()
    for klass in base.__mro__:
        for attr, value in vars(klass).items():
            if getattr(value, "__isabstractmethod__", False):
                names.add(attr)
    return sorted(names)


def checked(config: Any, component: Any) -> Any:
    """``component`` after checking it against its kind's contract (see the module doc)."""
    kind = getattr(config, "kind", None)
    if kind not in BASES:
        return component
    module, cls = BASES[kind]
    base = getattr(importlib.import_module(module), cls)
    label = _label(config)
    if not isinstance(component, base):
        raise ComponentContractError(
            f"{label}: build() returned {_what(component)}; it must return a "
            f"{module}.{cls} (see docs/plugins.md)"
        )
    missing = [
        m
        for m in _abstract(base)
        if getattr(getattr(type(component), m, None), "__isabstractmethod__", False)
    ]
    if missing:
        raise ComponentContractError(
            f"{label}: {type(component).__name__} does not implement "
            f"{', '.join(m + '()' for m in missing)}, required of every {kind} (see docs/plugins.md)"
        )
    for method, check in RETURNS.get(kind, {}).items():
        _wrap_first_call(component, method, check, label)
    return component


def _wrap_first_call(component: Any, method: str, check: Check, label: str) -> None:
    if method in component.__dict__ or not callable(getattr(type(component), method, None)):
        return
    component.__dict__[method] = _FirstCall(component, method, check, label)


class _FirstCall:
    """The method ``method`` of ``component`` whose first result is checked.

    An instance attribute, so it shadows the class's method until removed; a deep copy (a
    target network) gets its own wrapper bound to the copy.
    """

    def __init__(self, component: Any, method: str, check: Check, label: str) -> None:
        self.component = component
        self.method = method
        self.check = check
        self.label = label

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        component = self.component
        result = getattr(type(component), self.method)(component, *args, **kwargs)
        problem = self.check(result, args, kwargs)
        if problem is not None:
            raise ComponentContractError(
                f"{self.label}: {self.method}() {problem} (see docs/plugins.md)"
            )
        component.__dict__.pop(self.method, None)  # checked once: the plain method from now on
        return result

    def __deepcopy__(self, memo: dict[int, Any]) -> _FirstCall:
        copy = memo.get(id(self.component), self.component)
        return _FirstCall(copy, self.method, self.check, self.label)
