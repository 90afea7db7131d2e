"""Per-seed random streams for K seeds trained as one batch (``compose run --seeds K``).

Why: torch has no batched generator. When the update step of K seeds runs once under
``torch.func.vmap``, a component's ``torch.randn(shape)`` must give seed k exactly the numbers
a separate run of seed k would draw at that point, else the K-seed run is a different
experiment. :class:`PerSeedRandom` is a ``TorchFunctionMode`` that intercepts the random
factory functions inside the vmapped step, draws ``shape`` from each seed's own
``torch.Generator`` (K draws, outside the vmap), and hands the stack back as one batched
tensor. Components keep calling ``torch.randn`` as they always do.

Supported: ``torch.randn``, ``torch.rand``, ``torch.randint``, ``torch.randn_like``,
``torch.rand_like``, ``torch.randint_like`` (with or without ``generator=``: a generator
owned by a component of the first seed is mapped to the same component's generator of each
seed). Any other random function inside the vmapped step raises :class:`SeedRandomError`
naming it (the vmap itself runs with ``randomness="error"``, so nothing slips through).
Outside a vmapped step the mode does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch._C._functorch import _add_batch_dim, maybe_current_level
from torch.overrides import TorchFunctionMode

from compose.train.runtime import get_rng_state, set_rng_state

__all__ = [
    "PerSeedRandom", "SeedRandomError", "SeedStream", "global_rng_as", "rng_state_of_device",
]


class SeedRandomError(RuntimeError):
    """A random draw inside the seed-batched step that cannot be split per seed."""


_FACTORIES = {torch.randn: "normal", torch.rand: "uniform", torch.randint: "integers"}
_LIKE = {torch.randn_like: torch.randn, torch.rand_like: torch.rand}
_REFUSED = {
    torch.normal, torch.bernoulli, torch.multinomial, torch.poisson, torch.randperm,
    torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.random_,
    torch.Tensor.bernoulli_, torch.Tensor.exponential_, torch.Tensor.geometric_,
    torch.Tensor.log_normal_, torch.Tensor.cauchy_, torch.Tensor.bernoulli,
    torch.Tensor.multinomial,
}


def _size(args: Sequence[Any]) -> tuple[int, ...]:
    """``randn(2, 3)`` and ``randn((2, 3))`` both -> (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)):
        return tuple(int(n) for n in args[0])
    return tuple(int(n) for n in args)


class PerSeedRandom(TorchFunctionMode):
    """Splits random draws inside a vmapped seed step into per-seed generator draws.

    ``generators[k]`` is seed k's stream (on the run's device). ``owned`` maps a generator
    held by a component of the first seed (by ``id``) to that component's generator in
    every seed. :meth:`batched` marks the vmap level the draws are batched at.
    """

    def __init__(
        self,
        generators: Sequence[torch.Generator],
        owned: dict[int, Sequence[torch.Generator]] | None = None,
    ) -> None:
        super().__init__()
        self.generators = list(generators)
        self.owned = dict(owned or {})
        self.level: int | None = None

    @contextmanager
    def batched(self) -> Iterator[None]:
        """Call at the top of the vmapped function: draws from here on are per seed."""
        previous, self.level = self.level, maybe_current_level()
        try:
            yield
        finally:
            self.level = previous

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: Sequence[Any] = (), kwargs: Any = None
    ) -> Any:
        kwargs = dict(kwargs or {})
        if self.level is None:
            return func(*args, **kwargs)
        if func in _FACTORIES:
            return self._draw(func, args, kwargs)
        if func in _LIKE or func is torch.randint_like:
            return self._draw_like(func, args, kwargs)
        if func in _REFUSED:
            name = getattr(func, "__qualname__", getattr(func, "__name__", str(func)))
            raise SeedRandomError(
                f"{name} inside the seed-batched update step cannot be split into per-seed "
                "streams; draw with torch.randn / torch.rand / torch.randint (optionally "
                "with a generator) instead, or run the seeds as separate runs "
                "(compose sweep run ... --seeds ...)"
            )
        return func(*args, **kwargs)

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

    def _draw(self, func: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        streams = self._streams(kwargs.pop("generator", None))
        if "out" in kwargs:
            raise SeedRandomError(f"{func.__name__}(out=...) inside the seed-batched step")
        if func is torch.randint:
            if "size" in kwargs:
                args = (*args, kwargs.pop("size"))
            bounds, size = args[:-1], tuple(int(n) for n in args[-1])
            low = kwargs.pop("low", 0 if len(bounds) < 2 else bounds[0])
            high = kwargs.pop("high", bounds[-1])
            return self._stack(lambda g: torch.randint(low, high, size, generator=g, **kwargs), streams)
        size = _size(kwargs.pop("size")) if "size" in kwargs else _size(args)
        return self._stack(lambda g: func(size, generator=g, **kwargs), streams)

    def _draw_like(
        self, func: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]
    ) -> Any:
        like, rest = args[0], list(args[1:])
        kwargs.setdefault("dtype", like.dtype)
        kwargs.setdefault("device", like.device)
        kwargs.pop("memory_format", None)
        size = tuple(like.shape)  # the per-seed shape (``like`` is batched)
        if func is torch.randint_like:
            high = kwargs.pop("high", rest.pop() if rest else None)
            low = kwargs.pop("low", rest.pop() if rest else 0)
            return self._draw(torch.randint, (low, high, size), kwargs)
        return self._draw(_LIKE[func], (size,), kwargs)

    def _stack(
        self, draw: Callable[[torch.Generator], torch.Tensor], streams: Sequence[torch.Generator]
    ) -> torch.Tensor:
        """One draw per seed outside every functorch transform, batched at our vmap level."""
        with torch._C._DisableFuncTorch():
            draws = torch.stack([draw(g) for g in streams])
        assert self.level is not None
        return _add_batch_dim(draws, 0, self.level)


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
