"""ROMI's bilevel model learner with an adaptive weighting network (torch-free config).

The implementation is in :mod:`components.model_learners._bilevel_reweighted`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from components.model_learners.policy_phase import PolicyPhaseLearnerConfig
from compose.slots import ModelAuxLossSlot

if TYPE_CHECKING:
    from compose.kinds.context import BuildContext

__all__ = ["BilevelReweightedConfig"]


class BilevelReweightedConfig(PolicyPhaseLearnerConfig):
    """ROMI bilevel learner: weighted-NLL inner step, outer loss through the unrolled step.

    ROMI (Sec. 4.2, Eq. 8-10, App. A, App. D.2 Eq. 32, Algorithm 1): a weighting
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
        "outer",
        "weight_lr",
        "weight_min",
        "weight_max",
        "inner_lr",
        "inner_optimizer",
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
