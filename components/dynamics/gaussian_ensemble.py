"""Config of ``gaussian_ensemble``: the MBPO/MOPO probabilistic ensemble dynamics model.

Torch-free: the implementation lives in :mod:`components.dynamics._gaussian_ensemble`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from compose.registry import ComponentConfig

__all__ = ["GaussianEnsembleConfig", "MBPO_WEIGHT_DECAY"]

#: MBPO's per-layer L2 coefficients for 4 hidden layers + the output layer.
MBPO_WEIGHT_DECAY: tuple[float, ...] = (2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4)

Activation = Literal["swish", "silu", "relu", "tanh", "elu", "leaky_relu", "gelu", "mish"]


class GaussianEnsembleConfig(ComponentConfig):
    """An ensemble of Gaussian MLPs over (delta s, r), vectorized over members, with elites.

    Paper: MBPO (Janner et al. 2019, Sec. 4 and App. C) and MOPO (Yu et al. 2020, Sec. 4.3):
    each member i outputs N(mu_i(s, a), diag(sigma_i^2(s, a))) over the normalized
    (s' - s, r); log-variance is softly bounded between learned ``max_logvar`` and
    ``min_logvar`` (regularized by 0.01 * (sum max_logvar - sum min_logvar)); MOPO's
    Lipschitz option puts spectral normalization on every layer of the mean path (the
    shared trunk and the mean head), never on the variance head.
    Why: one batched matmul per layer for all members (``compose.nn``); two output heads
    (mean, log-variance) so spectral norm can constrain the mean head alone, as MOPO App. C.2
    describes.
    """

    kind: ClassVar[str] = "dynamics"
    type: Literal["gaussian_ensemble"] = "gaussian_ensemble"

    members: int = Field(7, gt=0, le=1024, description="ensemble size N")
    elites: int = Field(5, gt=0, description="members used for rollouts (best on holdout)")
    hidden: list[Annotated[int, Field(gt=0)]] = Field(
        default_factory=lambda: [200, 200, 200, 200],
        min_length=1,
        description="hidden layer widths (MBPO/MOPO: 4 x 200)",
    )
    activation: Activation = Field("swish", description="hidden activation (MBPO: swish)")
    learn_reward: bool = Field(
        True,
        description="predict r with the next state; false: the env's known reward "
        "(compose.envs.rewards: hopper, halfcheetah, walker2d), as ROMI App. D.2 assumes",
    )
    spectral_norm: bool = Field(
        False, description="spectral norm on the mean path (MOPO's Lipschitz regularization)"
    )
    weight_decay: list[Annotated[float, Field(ge=0.0)]] = Field(
        default_factory=lambda: list(MBPO_WEIGHT_DECAY),
        description="L2 coefficient per layer: one per hidden layer, then the output heads",
    )
    max_logvar_init: float = Field(0.5, description="initial upper log-variance bound (MBPO)")
    min_logvar_init: float = Field(-10.0, description="initial lower log-variance bound (MBPO)")
    logvar_bound_weight: float = Field(
        0.01, ge=0.0, description="weight of sum(max_logvar) - sum(min_logvar) in the loss"
    )

    @model_validator(mode="after")
    def _check(self) -> GaussianEnsembleConfig:
        if self.elites > self.members:
            raise ValueError(f"elites ({self.elites}) must be <= members ({self.members})")
        if len(self.weight_decay) != len(self.hidden) + 1:
            raise ValueError(
                f"weight_decay needs one entry per layer: {len(self.hidden) + 1} "
                f"({len(self.hidden)} hidden + output), got {len(self.weight_decay)}"
            )
        if self.min_logvar_init >= self.max_logvar_init:
            raise ValueError("min_logvar_init must be below max_logvar_init")
        return self

    def build(self, ctx: Any) -> Any:
        """Make the :class:`~components.dynamics._gaussian_ensemble.GaussianEnsemble`."""
        from components.dynamics._gaussian_ensemble import GaussianEnsemble

        return GaussianEnsemble(self, ctx)
