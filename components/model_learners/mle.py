"""Config of ``mle``: maximum-likelihood ensemble training with holdout early stopping.

Torch-free: the implementation lives in :mod:`components.model_learners._mle`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from compose.registry import ComponentConfig
from compose.slots import ModelAuxLossSlot

__all__ = ["MLEConfig"]


class MLEConfig(ComponentConfig):
    """Gaussian maximum likelihood of the ensemble with holdout early stopping and elites.

    Paper: MBPO (Janner et al. 2019) App. C / MOPO (Yu et al. 2020) Sec. 4.3, App. C.2: each
    member maximizes log N(y; mu_i, Sigma_i) on normalized targets y = (s' - s, r); a holdout
    of 1000 transitions decides early stopping (stop once no member improved its best
    holdout MSE by more than 1% for ``patience`` epochs; every member keeps its best
    snapshot) and the ``elites`` members with the lowest holdout MSE.
    Why ``sampling: bootstrap`` (default): MBPO's and MOPO's ``bnn.py`` and OfflineRL-Kit's
    ``EnsembleDynamics`` (the code MOBILE, ROMI and DAMO build on) give each member a
    resample of the training set drawn with replacement once per fit, reordered every epoch;
    ``shuffle`` (every member sees every row, in its own order) is kept as an option. The
    indices are gathered as [E, B] so all members train in one batched forward.
    Why ``aux_loss_scale: log_density`` (default): VIPO's L_aug = L_ori + lambda L_vic
    (VIPO Eq. 7-8) takes L_ori = -E log P_theta(s', r | s, a), the log-density summed over
    the output dims, while this learner's NLL term is MBPO's per-dimension mean (2 / D of it
    per member); the aux terms are multiplied by the same factor, so lambda of VIPO Table 5
    means the paper's lambda and the regularization keeps its MBPO weight (plain MLE is
    unchanged). ``as_returned`` is the scale before issue #14 (lambda acts as lambda D / 2).
    ``grad_ratio_every`` only logs (``aux_losses.<i>.grad_ratio``); the model does not depend
    on it, so it is left out of the model cache key.
    """

    kind: ClassVar[str] = "model_learner"
    type: Literal["mle"] = "mle"
    #: Fields the fitted model does not depend on (left out of the model cache key).
    policy_phase_fields: ClassVar[frozenset[str]] = frozenset({"grad_ratio_every"})

    lr: float = Field(1e-3, gt=0.0, lt=1.0, description="Adam learning rate")
    batch_size: int = Field(256, gt=0, description="rows per member per gradient step")
    holdout: int | float = Field(
        1000,
        description="holdout: transitions (int, capped at 20% of the data) or a fraction (float < 1)",
    )
    patience: int = Field(5, gt=0, description="epochs without >improvement gain before stopping")
    improvement: float = Field(
        0.01, ge=0.0, lt=1.0, description="relative holdout-MSE gain that counts as improvement"
    )
    max_epochs: int | None = Field(None, gt=0, description="cap on epochs (null: none)")
    max_updates: int | None = Field(None, gt=0, description="cap on gradient steps (null: none)")
    sampling: Literal["shuffle", "bootstrap"] = Field(
        "bootstrap",
        description="per-member training rows: a bootstrap resample drawn once per fit "
        "(MBPO/MOPO/OfflineRL-Kit code) or every row in its own order (shuffle)",
    )
    loss_scale: Literal["mbpo", "mean"] = Field(
        "mbpo",
        description=(
            "mbpo: sum over members of mean (z^2 + log var) as MBPO/MOPO's code (= 2E x mean "
            "NLL), keeping the published weight of the regularization; mean: the mean NLL"
        ),
    )
    aux_loss_scale: Literal["log_density", "as_returned"] = Field(
        "log_density",
        description=(
            "log_density: aux loss_* terms are relative to sum_e mean_b -log P_e (density summed "
            "over output dims, VIPO Eq. 7-8) and scaled like the NLL term (x c/(E D)); "
            "as_returned: added unscaled (before #14: VIPO's lambda acted as lambda D/2)"
        ),
    )
    grad_ratio_every: int = Field(
        100,
        ge=0,
        description="every k-th step, log ||grad aux loss|| / ||grad NLL|| per aux loss "
        "(aux_losses.<i>.grad_ratio, epoch mean of the logged steps); 0: never",
    )
    eval_batch_size: int = Field(8192, gt=0, description="rows per holdout forward pass")
    progress: bool = Field(False, description="show a rich progress bar over epochs")
    aux_losses: list[ModelAuxLossSlot] = Field(
        default_factory=list, description="extra model losses (VIPO, ROMI, ...)"
    )

    @field_validator("holdout")
    @classmethod
    def _holdout(cls, value: int | float) -> int | float:
        if isinstance(value, bool):
            raise ValueError("holdout must be an int (transitions) or a float fraction")
        if isinstance(value, int) and value < 1:
            raise ValueError("holdout must be >= 1 transition")
        if isinstance(value, float) and not 0.0 < value < 1.0:
            raise ValueError("a fractional holdout must be in (0, 1)")
        return value

    def build(self, ctx: Any) -> Any:
        """Make the :class:`~components.model_learners._mle.MLELearner`."""
        from components.model_learners._mle import MLELearner

        return MLELearner(self, ctx)
