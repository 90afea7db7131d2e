"""What a component may use: the build context and the per-update inputs.

Everything is handed over explicitly — shapes, device, RNG, data, already-built
dependencies — never through globals. Components built in a notebook make a BuildContext
by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch

    from compose.kinds.agent import Agent
    from compose.kinds.dynamics import Dynamics
    from compose.kinds.policy import Policy
    from compose.kinds.types import Batch

__all__ = ["Buffers", "BuildContext", "TransitionSource", "UpdateInputs"]


class TransitionSource(Protocol):
    """A store of transitions a component may draw its own rows from (a replay buffer).

    ``indices`` draws ``n`` row indices uniformly with replacement from ``generator``
    (a generator on the source's device; None: torch's global one); ``gather`` returns
    those rows. Drawing from an own generator keeps the trainer's random stream unchanged.
    """

    def __len__(self) -> int: ...

    def indices(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def gather(self, idx: torch.Tensor) -> Batch: ...


@dataclass(frozen=True)
class Buffers:
    """The policy phase's two transition stores: the offline data and the model buffer."""

    real: TransitionSource
    model: TransitionSource


@dataclass
class BuildContext:
    """Facts and dependencies a component's ``build`` may use.

    ``data`` is the offline dataset (:class:`compose.data.OfflineData`); ``termination`` maps
    (obs, act, next_obs) -> bool done; ``reward`` maps (obs, act, next_obs) -> r [...] for
    envs with a known reward (:mod:`compose.envs.rewards`; None otherwise), read by a
    dynamics model that does not learn the reward; ``dynamics``, ``policy`` and ``agent``
    are set once built, for components that depend on them. ``seed`` is the run's seed, for
    a component that seeds generators of its own (:meth:`component_seed`); None (a context
    made by hand): torch's initial seed.
    """

    obs_dim: int
    act_dim: int
    action_low: torch.Tensor
    action_high: torch.Tensor
    device: torch.device
    gamma: float = 0.99
    data: Any = None
    termination: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    reward: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    seed: int | None = None
    dynamics: Dynamics | None = None
    policy: Policy | None = None
    agent: Agent | None = None

    def component_seed(self) -> int:
        """The seed a component derives its own generators from: ``seed``, else torch's
        initial seed (equal to the run's seed once the run seeded torch), in [0, 2**63)."""
        import torch

        return int(self.seed if self.seed is not None else torch.initial_seed()) % (2**63)

    def build(self, config: Any) -> Any:
        """Build a component config with this context, checked against its kind's contract
        (:mod:`compose.kinds.contracts`: base class and abstract methods now, return types
        and shapes on the first call)."""
        from compose.kinds.contracts import checked

        return checked(config, config.build(self))


@dataclass
class UpdateInputs:
    """What one update step hands to objectives and aux losses.

    ``real`` is a batch of dataset transitions; ``model`` a batch from the model buffer (or
    None in the model phase); ``batch`` is the mixed batch the critic and actor train on.
    ``buffers`` are the stores those rows were drawn from, for a component that trains on
    a batch of its own (DAMO's classifier, DAMO App. C.3); None outside the policy phase.
    """

    step: int
    real: Batch
    model: Batch | None = None
    batch: Batch | None = None
    agent: Agent | None = None
    dynamics: Dynamics | None = None
    buffers: Buffers | None = None
