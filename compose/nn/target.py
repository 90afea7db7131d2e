"""Target-network updates with foreach kernels: one fused op over all parameters.

Reference: DDPG/SAC Polyak averaging, theta' <- (1 - tau) theta' + tau theta.
Why: ``torch._foreach_lerp_`` updates every tensor in one call instead of a Python loop of
small ops, which matters when the critic is updated every gradient step.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def soft_update_(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak update in place: target <- target + tau * (source - target) (lerp)."""
    t_params = list(target.parameters())
    s_params = list(source.parameters())
    if len(t_params) != len(s_params):
        raise ValueError("soft_update_: target and source have different parameter lists")
    if t_params:
        torch._foreach_lerp_(t_params, s_params, tau)


@torch.no_grad()
def hard_update_(target: nn.Module, source: nn.Module) -> None:
    """Copy every parameter and buffer of ``source`` into ``target``."""
    target.load_state_dict(source.state_dict())
