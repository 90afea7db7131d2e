"""The agent that policy-phase components see: policy, critics, targets, temperature."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from compose.kinds.policy import Policy

__all__ = ["Agent", "QEnsemble"]


class QEnsemble(Protocol):
    """K critics evaluated as one vectorized network: (obs [B,do], act [B,da]) -> Q [K, B]."""

    num_critics: int

    def __call__(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor: ...


@dataclass
class Agent:
    """The actor-critic pieces a critic target, actor objective or uncertainty may read.

    ``temperature()`` returns the current entropy coefficient alpha (detached), owned by the
    actor objective; critic targets use it in the soft Bellman target. ``target_policy`` is
    a Polyak-averaged copy of the policy (pi_phi'), present when the critic target asks for
    one (``CriticTarget.uses_target_policy``; AMPL Eq. 12), else None.
    """

    policy: Policy
    critic: QEnsemble
    target_critic: QEnsemble
    gamma: float
    temperature: Callable[[], torch.Tensor]
    target_policy: Policy | None = None
