"""Generic torch building blocks: vectorized ensembles, tanh-Gaussian helpers, target updates.

Nothing here knows an algorithm; components build their networks from these pieces.
"""

from __future__ import annotations

from compose.nn.ensemble import (
    MLP,
    EnsembleLinear,
    EnsembleMLP,
    activate,
    activation,
    ensemble_linear,
    weight_decay_penalty,
)
from compose.nn.optim import make_adam
from compose.nn.q_ensemble import QEnsemble, q_without_param_grad
from compose.nn.spectral import EnsembleSpectralNorm
from compose.nn.tanh_normal import (
    TanhNormalSample,
    scale_action,
    tanh_normal_log_prob,
    tanh_normal_sample,
    unscale_action,
)
from compose.nn.target import hard_update_, soft_update_

__all__ = [
    "MLP",
    "EnsembleLinear",
    "EnsembleMLP",
    "EnsembleSpectralNorm",
    "QEnsemble",
    "TanhNormalSample",
    "activate",
    "activation",
    "ensemble_linear",
    "hard_update_",
    "make_adam",
    "q_without_param_grad",
    "scale_action",
    "soft_update_",
    "tanh_normal_log_prob",
    "tanh_normal_sample",
    "unscale_action",
    "weight_decay_penalty",
]
