"""RAMBO's adversarial value loss on the model (torch-free config).

The implementation is in :mod:`components.aux_losses._adversarial_value`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

if TYPE_CHECKING:
    from compose.kinds.context import BuildContext

__all__ = ["AdversarialValueConfig"]


class AdversarialValueConfig(ComponentConfig):
    """RAMBO adversarial model loss: lambda * V^pi_T via a score-function surrogate.

    RAMBO (ROMI Sec. 2, Eq. 2; Rigter et al. 2022): the model minimizes
    lambda * V^pi_T - E_D[log T(s'|s, a)]. This component is the first term; the model
    learner adds the MLE term on data. From start states s (the learner's real batch), for
    ``horizon`` steps: a ~ pi(s), every ensemble member e samples (s'_e, r_e), and
    A_e = r_e + gamma (1 - d_e) V(s'_e) - Q(s, a) with V(s') = E_{a'~pi} min_k Q_k(s', a')
    (the agent's current critics); A is normalized to zero mean and unit std over the
    batch (advantage normalization) and held fixed. The loss is
    lambda * sum_e mean_b A_{e,b} log T_e(s'_{e,b}, r_{e,b} | s_b, a_b), whose gradient is the
    score-function (REINFORCE) estimate of lambda * grad V^pi_T with a baseline Q(s, a).

    Why: each member samples and is scored at its own sample, so every member gets its own
    adversarial gradient (the MLE loss is a sum over members too, so lambda keeps its
    per-member meaning); the rollout continues from a uniformly random elite's sample, as
    branched rollouts do. Diagnostic ``adv_grad_norm`` is ||grad_theta loss_adversarial||
    (lambda included) from one extra ``torch.autograd.grad`` on the adversarial term alone.
    """

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("model",)

    type: Literal["adversarial_value"] = "adversarial_value"
    weight: float = Field(
        3e-4, ge=0.0, description="lambda of Eq. 2 (RAMBO default 3e-4); 0 leaves MLE unchanged"
    )
    gamma: float | None = Field(
        None, gt=0.0, le=1.0, description="discount in the advantage; null: the agent's gamma"
    )
    horizon: int = Field(
        5, ge=1, le=100, description="steps of adversarial rollouts from the start states"
    )
    normalize: bool = Field(True, description="normalize advantages to zero mean, unit std")
    log_grad_norm: bool = Field(
        True, description="log adv_grad_norm (one extra autograd.grad per update)"
    )
    start_states: Literal["real", "batch"] = Field(
        "real",
        description="start states: the learner's real batch, or the mixed training batch",
    )

    def build(self, ctx: BuildContext) -> Any:
        """The runtime :class:`AdversarialValue` aux loss."""
        from components.aux_losses._adversarial_value import AdversarialValue

        return AdversarialValue(self, ctx)
