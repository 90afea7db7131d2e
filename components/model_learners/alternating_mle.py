"""MLE pretraining, then MLE + model aux losses during the policy phase (torch-free config).

The implementation is in :mod:`components.model_learners._alternating_mle`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from components.model_learners.policy_phase import PolicyPhaseLearnerConfig

if TYPE_CHECKING:
    from compose.kinds.context import BuildContext

__all__ = ["AlternatingMLEConfig"]


class AlternatingMLEConfig(PolicyPhaseLearnerConfig):
    """Fixed-epoch MLE pretraining, then every ``every`` policy steps ``updates`` model steps.

    RAMBO (ROMI Eq. 2; Rigter et al. 2022, Algorithm 1) alternates agent and model
    training: each model step minimizes -E_D[log T(s'|s, a)] plus the model aux losses
    (``adversarial_value``: lambda * V^pi_T). ROMI's "w/o adaptive weighting" ablation
    (Sec. 5.2: "solely apply Equation 6 for model updates") is this learner with
    ``robust_value_aware`` and ``mle_weight: 0``: after the MLE pretraining, the model steps
    minimize L_RVL alone.
    Why a learner of its own: the value-dependent model losses need the agent, which exists
    only in the policy phase, so they must run on a policy-phase schedule; pretraining is
    plain MLE (the aux losses contribute nothing without an agent).
    Why ``mle_weight`` scales the regularization too: the log-variance bound terms and the
    weight decay belong to the likelihood fit (MBPO's NLL); "Eq. 6 alone" leaves them out.
    """

    kind: ClassVar[str] = "model_learner"
    type: Literal["alternating_mle"] = "alternating_mle"
    policy_phase_fields: ClassVar[frozenset[str]] = PolicyPhaseLearnerConfig.policy_phase_fields | {
        "mle_weight"
    }

    mle_weight: float = Field(
        1.0,
        ge=0.0,
        description="weight of the NLL (and the dynamics' regularization) in the policy-phase "
        "model steps: 1 = RAMBO Eq. 2; 0 = the aux losses alone (ROMI Sec. 5.2 ablation)",
    )

    def build(self, ctx: BuildContext) -> Any:
        """The runtime :class:`AlternatingMLE` learner."""
        from components.model_learners._alternating_mle import AlternatingMLE

        return AlternatingMLE(self, ctx)
