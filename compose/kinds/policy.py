"""Kind ``policy``: the actor network."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import torch

from compose.kinds.base import Component

__all__ = ["Policy", "PolicySample"]


@dataclass(frozen=True)
class PolicySample:
    """Actions drawn from the policy, and their log-density when the policy has one."""

    actions: torch.Tensor
    log_prob: torch.Tensor | None


class Policy(Component):
    """pi(a | s). Used by: every algorithm (SAC's tanh-Gaussian; AMPL's implicit a = pi(s, z)).

    A policy without a tractable density (implicit) says so on its config
    (``has_log_prob = False``, :class:`compose.registry.ComponentConfig`); the recipe schema
    refuses objectives that need log pi with it. Policies with a density should also
    implement :meth:`log_prob` (the log-likelihood of given actions, used by
    behavior-cloning pretraining, ``policy_pretrain``).
    """

    @abstractmethod
    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> PolicySample:
        """Sample actions for a batch of observations (reparameterized: grads flow)."""

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(actions | obs) [...] of given (e.g. dataset) actions; differentiable.

        The default raises NotImplementedError: a policy without it is behavior-cloned by
        regression of a sampled action (``policy_pretrain.loss: mse``).
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement log_prob(obs, actions)"
        )

    @classmethod
    def implements_log_prob(cls) -> bool:
        """Whether this policy class overrides :meth:`log_prob`."""
        return cls.log_prob is not Policy.log_prob

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions for evaluation."""
        return self.forward(obs, deterministic=True).actions
