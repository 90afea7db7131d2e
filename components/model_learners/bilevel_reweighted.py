"""ROMI's bilevel model learner with an adaptive weighting network (torch-free config).

The implementation is in :mod:`components.model_learners._bilevel_reweighted`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from compose.registry import ComponentConfig
from compose.slots import ModelAuxLossSlot

if TYPE_CHECKING:
    from compose.kinds.context import BuildContext

__all__ = ["BilevelReweightedConfig", "PolicyPhaseLearnerConfig"]


class PolicyPhaseLearnerConfig(ComponentConfig):
    """Shared fields of learners that pretrain by MLE and keep training during the policy phase.

    Not registered itself (no ``kind``): :class:`BilevelReweightedConfig` and
    ``alternating_mle`` extend it. ``policy_phase_fields``: pretraining is plain MLE, so the
    schedule and the aux losses do not change the pretrained model (it is cached once for a
    sweep over them; compose/train/model_phase.py).
    Why ``pretrain_stop``: RAMBO stops its initial MLE training on the held-out loss; ROMI
    changes that to a fixed 50 epochs "since we find this could be quite time-consuming"
    (romi.txt App. D.2). ``holdout`` runs the ``mle`` learner's rule (each member's best
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
    updates: int = Field(1000, ge=0, description="model gradient steps each time the schedule fires")
    aux_losses: list[ModelAuxLossSlot] = Field(
        default_factory=list, description="extra model losses added to the (inner) model loss"
    )


class BilevelReweightedConfig(PolicyPhaseLearnerConfig):
    """ROMI bilevel learner: weighted-NLL inner step, outer loss through the unrolled step.

    ROMI (romi.txt Sec. 4.2, Eq. 8-10, App. A, App. D.2 Eq. 32, Algorithm 1): a weighting
    network w_nu(s, a, s') = tanh(f_nu) (b - a)/2 + (a + b)/2 reweights every transition's
    NLL. Each update: (1) inner step psi' = psi - beta_1 grad_psi L_WSL(psi, nu) (Eq. 9);
    (2) outer step on nu by the gradient of the ``outer`` loss (default L_RVL) evaluated at
    psi'(nu) (Eq. 10), obtained by autograd through the one-step unrolled update
    (``torch.func.functional_call``), not by the hand-derived form of h.
    ``pretrain_epochs`` epochs of plain MLE come first (Algorithm 1 lines 3-7).

    Why ``inner_optimizer: adam`` (default): Eq. 9 is plain gradient descent, but the model
    is trained with Adam at lr 3e-4 (Table 3), under which an SGD step of 3e-4 barely moves
    the model. With ``adam`` the hypergradient is taken through the SGD step of size
    ``inner_lr`` (Eq. 10 exactly) and the model then takes the Adam step with the same
    gradient; with ``sgd`` the model takes exactly the unrolled step psi'.
    Why ``hidden`` 3 x 256: Table 3 lists (input, 256, 256, 256, 1); App. D.2's text says
    "2 hidden layers" — the table is taken, the field makes either possible.
    """

    kind: ClassVar[str] = "model_learner"
    type: Literal["bilevel_reweighted"] = "bilevel_reweighted"
    policy_phase_fields: ClassVar[frozenset[str]] = PolicyPhaseLearnerConfig.policy_phase_fields | {
        "outer", "weight_lr", "weight_min", "weight_max", "inner_lr", "inner_optimizer"
    }

    outer: ModelAuxLossSlot = Field(
        default="robust_value_aware",  # type: ignore[assignment]
        description="the outer (value-aware) loss whose gradient trains the weighting net",
    )
    weight_hidden: list[Annotated[int, Field(gt=0)]] = Field(
        default_factory=lambda: [256, 256, 256],
        min_length=1,
        description="hidden widths of w_nu (ROMI Table 3: 3 x 256)",
    )
    weight_lr: float = Field(1e-4, gt=0.0, lt=1.0, description="Adam lr of w_nu (ROMI Table 3)")
    weight_min: float = Field(0.5, gt=0.0, description="a: lower end of the weight range (Eq. 32)")
    weight_max: float = Field(2.0, gt=0.0, description="b: upper end of the weight range (Eq. 32)")
    inner_lr: float | None = Field(
        None, gt=0.0, lt=1.0, description="beta_1 of the unrolled step (Eq. 9-10); null: lr"
    )
    inner_optimizer: Literal["adam", "sgd"] = Field(
        "adam", description="the model's real step: Adam with the inner gradient, or psi' itself"
    )

    @model_validator(mode="after")
    def _range(self) -> BilevelReweightedConfig:
        if self.weight_min >= self.weight_max:
            raise ValueError(
                f"weight_min ({self.weight_min}) must be below weight_max ({self.weight_max})"
            )
        return self

    def build(self, ctx: BuildContext) -> Any:
        """The runtime :class:`BilevelReweighted` learner."""
        from components.model_learners._bilevel_reweighted import BilevelReweighted

        return BilevelReweighted(self, ctx)
