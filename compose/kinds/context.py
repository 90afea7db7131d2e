"""What a component may use: the build context and the per-update inputs.

Everything is handed over explicitly — shapes, device, RNG, data, already-built
dependencies — never through globals. Components built in a notebook make a BuildContext
by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from compose.kinds.agent import Agent
    from compose.kinds.dynamics import Dynamics
    from compose.kinds.types import Batch

__all__ = ["BuildContext", "UpdateInputs"]


@dataclass
class BuildContext:
    """Facts and dependencies a component's ``build`` may use.

    ``data`` is the offline dataset (:class:`compose.data.OfflineData`); ``termination`` maps
    (obs, act, next_obs) -> bool done; ``reward`` maps (obs, act, next_obs) -> r [...] for
    envs with a known reward (:mod:`compose.envs.rewards`; None otherwise), read by a
    dynamics model that does not learn the reward; ``dynamics``, ``policy`` and ``agent``
    are set once built, for components that depend on them.
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
    dynamics: Dynamics | None = None
    agent: Agent | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def build(self, config: Any) -> Any:
        """Build a nested component config with this context."""
        return config.build(self)


@dataclass
class UpdateInputs:
    """What one update step hands to objectives and aux losses.

    ``real`` is a batch of dataset transitions; ``model`` a batch from the model buffer (or
    None in the model phase); ``batch`` is the mixed batch the critic and actor train on.
    """

    step: int
    real: Batch
    model: Batch | None = None
    batch: Batch | None = None
    agent: Agent | None = None
    dynamics: Dynamics | None = None
