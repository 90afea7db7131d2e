"""The shared config base of model learners that keep training during the policy phase.

Not a component (no ``kind``, not in ``components.plugin.BUILTIN_MODULES``); torch-free like
every config module.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig
from compose.slots import ModelAuxLossSlot

__all__ = ["PolicyPhaseLearnerConfig"]


class PolicyPhaseLearnerConfig(ComponentConfig):
    """Shared fields of learners that pretrain by MLE and keep training during the policy phase.

    Not registered itself (no ``kind``): ``bilevel_reweighted`` and ``alternating_mle``
    extend it; their runtime base is
    :class:`components.model_learners._policy_phase.PolicyPhaseLearner`.
    ``policy_phase_fields``: pretraining is plain MLE, so the schedule and the aux losses do
    not change the pretrained model (it is cached once for a
    sweep over them; compose/train/model_phase.py).
    Why ``pretrain_stop``: RAMBO stops its initial MLE training on the held-out loss; ROMI
    changes that to a fixed 50 epochs "since we find this could be quite time-consuming"
    (ROMI App. D.2). ``holdout`` runs the ``mle`` learner's rule (each member's best
    holdout-MSE snapshot, stop after ``patience`` epochs without a relative gain of
    ``improvement``, elites by holdout MSE) with this learner's ``lr``, ``batch_size`` and
    ``holdout``, on an Adam of its own, as RAMBO's code trains with one optimizer for the
    MLE fit and another for the adversarial steps.
    """

    policy_phase_fields: ClassVar[frozenset[str]] = frozenset({"every", "updates", "aux_losses"})

    def trains_in_policy_phase(self) -> bool:
        """True: the model keeps learning while the policy learns (``updates`` > 0)."""
        return self.updates > 0

    pretrain_stop: Literal["epochs", "holdout"] = Field(
        "epochs",
        description="epochs: pretrain_epochs of MLE, no early stopping (ROMI App. D.2); "
        "holdout: the mle learner's early stopping on the held-out loss (RAMBO)",
    )
    pretrain_epochs: int = Field(
        50, ge=0, description="fixed epochs of MLE pretraining (pretrain_stop: epochs)"
    )
    holdout: int = Field(
        1000, ge=0, description="transitions held out of pretraining to choose elites and report"
    )
    patience: int = Field(
        5, gt=0, description="pretrain_stop holdout: epochs without improvement before stopping"
    )
    improvement: float = Field(
        0.01, ge=0.0, lt=1.0, description="pretrain_stop holdout: relative gain that counts"
    )
    max_epochs: int | None = Field(
        None, gt=0, description="pretrain_stop holdout: cap on epochs (null: none)"
    )
    max_updates: int | None = Field(
        None, gt=0, description="pretrain_stop holdout: cap on gradient steps (null: none)"
    )
    batch_size: int = Field(256, gt=0, description="model batch size (ROMI Table 3)")
    lr: float = Field(3e-4, gt=0.0, lt=1.0, description="model Adam learning rate (ROMI Table 3)")
    every: int = Field(
        1000, gt=0, description="policy-phase steps between model updates (0 mod every)"
    )
    updates: int = Field(
        1000, ge=0, description="model gradient steps each time the schedule fires"
    )
    aux_losses: list[ModelAuxLossSlot] = Field(
        default_factory=list, description="extra model losses added to the (inner) model loss"
    )
