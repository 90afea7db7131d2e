"""Per-seed random streams for K seeds trained as one batch (``compose run --seeds K``).

Why: torch has no batched generator. When the update step of K seeds runs once under
``torch.func.vmap``, a component's ``torch.randn(shape)`` must give seed k exactly the numbers
a separate run of seed k would draw at that point, else the K-seed run is a different
experiment. :class:`PerSeedRandom` wraps torch's random factory functions while the
vmapped step runs and, inside it, draws ``shape`` from each seed's own
``torch.Generator`` (K draws, outside the vmap), and hands the stack back as one batched
tensor. Components keep calling ``torch.randn`` as they always do.

Supported: ``torch.randn``, ``torch.rand``, ``torch.randint``, ``torch.randn_like``,
``torch.rand_like``, ``torch.randint_like`` (with or without ``generator=``: a generator
owned by a component of the first seed is mapped to the same component's generator of each
seed). Any other random op inside the vmapped step is an error (the vmap runs with
``randomness="error"``; the step reports :data:`UNSPLIT_MESSAGE`), so nothing slips through.
Outside a vmapped step the wrappers call torch's own functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch._C._functorch import _add_batch_dim, _remove_batch_dim, maybe_current_level
from torch._functorch.vmap import vmap_increment_nesting

from compose.train.runtime import get_rng_state, set_rng_state

__all__ = [
    "PerSeedRandom",
    "SeedRandomError",
    "SeedStream",
    "global_rng_as",
    "rng_state_of_device",
    "vmap_seeds",
]


class SeedRandomError(RuntimeError):
    """A random draw inside the seed-batched step that cannot be split per seed."""


#: The random factories split per seed (names in the ``torch`` namespace).
SPLIT = ("randn", "rand", "randint", "randn_like", "rand_like", "randint_like")

#: What the vmap's own error for any other random op is turned into.
UNSPLIT_MESSAGE = (
    "a component draws random numbers inside the seed-batched update step with an op that "
    "cannot be split into per-seed streams (only torch.{} are; Tensor.normal_, "
    "torch.normal, torch.bernoulli, torch.multinomial, torch.randperm and distributions' "
    "samplers are not); draw with those instead, or run the seeds as separate runs "
    "(compose sweep run RECIPE --seeds ...)"
).format(", torch.".join(SPLIT))


def _size(args: Sequence[Any]) -> tuple[int, ...]:
    """``randn(2, 3)`` and ``randn((2, 3))`` both -> (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)):
        return tuple(int(n) for n in args[0])
    return tuple(int(n) for n in args)


class PerSeedRandom:
    """Splits random draws inside a vmapped seed step into per-seed generator draws.

    ``generators[k]`` is seed k's stream (on the run's device). ``owned`` maps a generator
    held by a component of the first seed (by ``id``) to that component's generator in
    every seed. While entered, ``torch.randn`` & co. (:data:`SPLIT`) are wrapped; the
    wrappers draw per seed only inside :meth:`batched` (the top of the vmapped function)
    and call the original everywhere else.
    Why a namespace patch and not a ``TorchFunctionMode``: a mode sees every torch call of
    the step (~940 per MOPO update, each a Python call); the patch costs nothing for the
    other ops. A random op that is not patched still cannot slip through:
    the step's vmap runs with ``randomness="error"`` (reported as :data:`UNSPLIT_MESSAGE`).
    """

    def __init__(
        self,
        generators: Sequence[torch.Generator],
        owned: dict[int, Sequence[torch.Generator]] | None = None,
    ) -> None:
        self.generators = list(generators)
        self.owned = dict(owned or {})
        self.level: int | None = None
        self.originals: dict[str, Callable[..., Any]] = {}

    def __enter__(self) -> PerSeedRandom:
        if self.originals:
            raise RuntimeError("PerSeedRandom is already entered")
        self.originals = {name: getattr(torch, name) for name in SPLIT}
        for name, original in self.originals.items():
            setattr(torch, name, self._wrapper(name, original))
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self.originals.items():
            setattr(torch, name, original)
        self.originals = {}

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Call at the top of the vmapped function: draws from here on are per seed."""
        previous, self.level = self.level, maybe_current_level()
        try:
            yield
        finally:
            self.level = previous

    def _wrapper(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def draw(*args: Any, **kwargs: Any) -> Any:
            if self.level is None:
                return original(*args, **kwargs)
            if name.endswith("_like"):
                return self._draw_like(name, args, dict(kwargs))
            return self._draw(name, args, dict(kwargs))

        draw.__name__ = draw.__qualname__ = name
        draw.__doc__ = original.__doc__
        return draw

    def _streams(self, generator: torch.Generator | None) -> Sequence[torch.Generator]:
        if generator is None:
            return self.generators
        streams = self.owned.get(id(generator))
        if streams is None:
            raise SeedRandomError(
                "a random draw inside the seed-batched update step uses a torch.Generator "
                "that is not the run's stream nor an attribute of a component; keep "
                "component generators as attributes (self.generator = ...) so each seed "
                "gets its own"
            )
        return streams

    def _draw(self, name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        streams = self._streams(kwargs.pop("generator", None))
        if "out" in kwargs:
            raise SeedRandomError(f"torch.{name}(out=...) inside the seed-batched step")
        func = self.originals[name]
        if name == "randint":
            if "size" in kwargs:
                args = (*args, kwargs.pop("size"))
            bounds, size = args[:-1], tuple(int(n) for n in args[-1])
            low = kwargs.pop("low", 0 if len(bounds) < 2 else bounds[0])
            high = kwargs.pop("high", bounds[-1])
            return self._stack(lambda g: func(low, high, size, generator=g, **kwargs), streams)
        size = _size(kwargs.pop("size")) if "size" in kwargs else _size(args)
        return self._stack(lambda g: func(size, generator=g, **kwargs), streams)

    def _draw_like(self, name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        like, rest = args[0], list(args[1:])
        kwargs.setdefault("dtype", like.dtype)
        kwargs.setdefault("device", like.device)
        kwargs.pop("memory_format", None)
        size = tuple(like.shape)  # the per-seed shape (``like`` is batched)
        if name == "randint_like":
            high = kwargs.pop("high", rest.pop() if rest else None)
            low = kwargs.pop("low", rest.pop() if rest else 0)
            return self._draw("randint", (low, high, size), kwargs)
        return self._draw(name.removesuffix("_like"), (size,), kwargs)

    def _stack(
        self, draw: Callable[[torch.Generator], torch.Tensor], streams: Sequence[torch.Generator]
    ) -> torch.Tensor:
        """One draw per seed outside every functorch transform, batched at our vmap level."""
        with torch._C._DisableFuncTorch():
            draws = torch.stack([draw(g) for g in streams])
        assert self.level is not None
        return _add_batch_dim(draws, 0, self.level)


def vmap_seeds(fn: Callable[..., Any], *args: Any) -> Any:
    """``torch.func.vmap(fn, randomness="error")(*args)`` over dim 0, for the seed step.

    ``args`` and ``fn``'s result are tensors, None, or dicts/tuples/lists of them (nested).
    Why not ``vmap`` itself: it flattens and rebuilds every argument and result with
    ``torch.utils._pytree`` (hundreds of Python node visits per update step);
    entering the vmap level and adding/removing the batch dims directly does the same.
    A random op that is not split per seed is reported as :class:`SeedRandomError`.
    """
    k = _first_leaf(args).shape[0]  # every input is [K, ...] (the seed step's own stacks)
    try:
        with vmap_increment_nesting(k, "error") as level:
            out = fn(*_mapped(args, lambda t: _add_batch_dim(t, 0, level)))
            return _mapped(out, lambda t: _remove_batch_dim(t, level, k, 0))
    except RuntimeError as exc:
        if "randomness" in str(exc) and "vmap" in str(exc):
            raise SeedRandomError(UNSPLIT_MESSAGE) from exc
        raise


def _mapped(tree: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(tree, torch.Tensor):
        return fn(tree)
    if isinstance(tree, dict):
        return {key: _mapped(value, fn) for key, value in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(_mapped(value, fn) for value in tree)
    if tree is None:
        return None
    raise TypeError(f"vmap_seeds: unsupported value {type(tree).__name__}")


def _first_leaf(tree: Any) -> torch.Tensor:
    if isinstance(tree, torch.Tensor):
        return tree
    values = tree.values() if isinstance(tree, dict) else tree if tree is not None else ()
    for value in values:
        if isinstance(value, torch.Tensor):
            return value
        if value is not None:
            try:
                return _first_leaf(value)
            except ValueError:
                continue
    raise ValueError("vmap_seeds: no tensor among the inputs")


def rng_state_of_device(device: torch.device) -> torch.Tensor:
    """The global generator's state for ``device`` (CPU or one CUDA device)."""
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    return torch.get_rng_state()


def _set_rng_state_of_device(device: torch.device, state: torch.Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


@dataclass
class SeedStream:
    """One seed's random state: ``generator`` on the run's device (drawn from inside the
    batched step) and ``host``, every other global RNG (numpy, Python, the CPU generator
    when the run is on CUDA) as :func:`compose.train.runtime.get_rng_state` returns them.
    """

    generator: torch.Generator
    host: dict[str, Any]

    @classmethod
    def capture(cls, device: torch.device) -> SeedStream:
        """The global RNGs' current state as a seed's stream."""
        generator = torch.Generator(device=device)
        generator.set_state(rng_state_of_device(device))
        return cls(generator, get_rng_state())


@contextmanager
def global_rng_as(stream: SeedStream) -> Iterator[None]:
    """Run code that draws from the global RNGs on ``stream`` instead.

    On exit ``stream`` has advanced by what the code drew and the global RNGs are back where
    they were. Why: rollouts, evaluation and checkpoint writing draw from (or save) the global
    RNGs exactly as in a single-seed run; swapping each seed's stream in makes them per seed
    without touching that code.
    """
    device = stream.generator.device
    saved = get_rng_state()
    set_rng_state(stream.host)
    _set_rng_state_of_device(device, stream.generator.get_state())
    try:
        yield
    finally:
        stream.generator.set_state(rng_state_of_device(device))
        stream.host = get_rng_state()
        set_rng_state(saved)
