"""MLE pretraining, then MLE + model aux losses during the policy phase (torch-free config).

The implementation is in :mod:`components.model_learners._alternating_mle`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from components.model_learners.bilevel_reweighted import PolicyPhaseLearnerConfig

if TYPE_CHECKING:
    from compose.kinds.context import BuildContext

__all__ = ["AlternatingMLEConfig"]


class AlternatingMLEConfig(PolicyPhaseLearnerConfig):
    """Fixed-epoch MLE pretraining, then every ``every`` policy steps ``updates`` model steps.

    RAMBO (romi.txt Eq. 2; Rigter et al. 2022, Algorithm 1) alternates agent and model
    training: each model step minimizes -E_D[log T(s'|s, a)] plus the model aux losses
    (``adversarial_value``: lambda * V^pi_T). ROMI's "w/o adaptive weighting" ablation
    (Sec. 5.2) is this learner with ``robust_value_aware``.
    Why a learner of its own: the value-dependent model losses need the agent, which exists
    only in the policy phase, so they must run on a policy-phase schedule; pretraining is
    plain MLE (the aux losses contribute nothing without an agent).
    """

    kind: ClassVar[str] = "model_learner"
    type: Literal["alternating_mle"] = "alternating_mle"

    def build(self, ctx: BuildContext) -> Any:
        """The runtime :class:`AlternatingMLE` learner."""
        from components.model_learners._alternating_mle import AlternatingMLE

        return AlternatingMLE(self, ctx)
