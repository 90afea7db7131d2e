"""Tanh-squashed Gaussian: reparameterized sampling and numerically stable log-probabilities.

Reference: SAC (Haarnoja et al. 2018), Appendix C, Eq. 21:
log pi(a|s) = log N(u; mu, sigma) - sum_i log(1 - tanh(u_i)^2), with the stable identity
log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u)).
Why: ``log(1 - tanh(u)^2)`` evaluated directly is -inf once tanh saturates in float32.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG2 = math.log(2.0)


class TanhNormalSample(NamedTuple):
    """A squashed sample ``action`` in (-1, 1), its pre-tanh ``pre_tanh`` and ``log_prob`` [..]."""

    action: Tensor
    pre_tanh: Tensor
    log_prob: Tensor


def _tanh_log_det(pre_tanh: Tensor) -> Tensor:
    """sum_i log(1 - tanh(u_i)^2) computed as 2 * (log 2 - u - softplus(-2u))."""
    return (2.0 * (_LOG2 - pre_tanh - F.softplus(-2.0 * pre_tanh))).sum(-1)


def _gaussian_log_prob(u: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """sum_i log N(u_i; mean_i, exp(log_std_i))."""
    z = (u - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - _LOG_SQRT_2PI).sum(-1)


def tanh_normal_sample(
    mean: Tensor,
    log_std: Tensor,
    deterministic: bool = False,
    generator: torch.Generator | None = None,
) -> TanhNormalSample:
    """Reparameterized sample a = tanh(mean + std * eps) with log pi(a) (SAC Eq. 21).

    ``deterministic=True`` returns tanh(mean) (evaluation) with its density at u = mean.
    ``generator`` makes the noise reproducible independently of the global RNG.
    """
    if deterministic:
        u = mean
    else:
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        u = mean + log_std.exp() * eps
    log_prob = _gaussian_log_prob(u, mean, log_std) - _tanh_log_det(u)
    return TanhNormalSample(torch.tanh(u), u, log_prob)


def tanh_normal_log_prob(
    action: Tensor, mean: Tensor, log_std: Tensor, eps: float = 1e-6
) -> Tensor:
    """log pi(a) of a given squashed action a in (-1, 1) (e.g. dataset actions, for BC terms).

    The action is clipped to (-1 + eps, 1 - eps) before atanh so that boundary actions from
    datasets stay finite.
    """
    a = action.clamp(-1.0 + eps, 1.0 - eps)
    u = torch.atanh(a)
    return _gaussian_log_prob(u, mean, log_std) - _tanh_log_det(u)


def scale_action(action: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """Map a squashed action in [-1, 1] to the env's box [low, high]."""
    return low + (action + 1.0) * 0.5 * (high - low)


def unscale_action(action: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """Map an env action in [low, high] back to [-1, 1]."""
    return 2.0 * (action - low) / (high - low) - 1.0
