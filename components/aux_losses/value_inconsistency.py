"""VIPO's value-function inconsistency loss on the model (torch-free config).

The implementation is in :mod:`components.aux_losses._value_inconsistency`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

if TYPE_CHECKING:
    from compose.kinds.context import BuildContext

__all__ = ["ValueInconsistencyConfig"]


class ValueInconsistencyConfig(ComponentConfig):
    """VIPO value-inconsistency model loss: lambda * E[(V_d(s) - V_m(s))^2] via its score gradient.

    VIPO (Sec. 3): owns V_d, the behavior policy's state value fitted on the data by
    the MSBE of Eq. 9, and V_m, fitted on model-sampled (r, s') at the dataset's (s, a) by
    Eq. 10, each with an EMA target net. Its ``loss`` is a surrogate whose gradient w.r.t. the
    model parameters is the VIPO term of Eq. 11,
    -2 lambda E[(Vbar_d(s) - Vbar_m(s)) (r + gamma Vbar_m(s')) grad log P_theta(s', r | s, a)],
    so the model learner minimizing NLL + this loss follows the gradient of L_aug (Eq. 8).

    Why: the behavior-policy actions are the dataset's actions (as in the paper, Eq. 10 draws
    (s, a) from D), so no behavior-cloning policy is needed for the model loss; Algorithm 1
    line 12's optional BC policy only initializes the planner and is not this component's job.
    Why: samples come from every ensemble member (each member's own Gaussian, ``samples``
    draws per row), so every member gets its own score-function gradient on every row; the
    ensemble loss is the sum over members, like the MLE loss of each member (MBPO).
    Why ``weight`` is on the log-density scale: Eq. 8 weighs L_vic against L_ori = -E log P
    with the full log-density (Eq. 7); the ``mle`` learner multiplies this term by the factor
    that maps -log P onto its per-dimension NLL (``aux_loss_scale: log_density``), so lambda
    of Table 5 is the paper's lambda (``as_returned`` keeps the old lambda D / 2 reading).
    Why ``baseline: model_value`` (default) while Eq. 11 has none: Vbar_m(s) does not depend
    on the draw (s', r) and E_{P_theta}[grad log P_theta] = 0, so subtracting it from
    r + gamma Vbar_m(s') leaves the expected gradient (Eq. 11's) unchanged and only removes
    noise, the more so the larger the values (hopper: rewards ~3, gamma 0.99). Measured on
    a hopper model: a far lower total variance of the estimator, the two mean gradients
    equal within noise (experiments/vipo/README.md). ``none`` is Eq. 11 as the paper (and
    its code) writes it.
    """

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("model",)

    type: Literal["value_inconsistency"] = "value_inconsistency"
    weight: float = Field(
        0.35,
        ge=0.0,
        description="lambda of Eq. 8/11 (VIPO Table 5), relative to L_ori = -E log P (density summed "
        "over output dims); 0 leaves the MLE update unchanged",
    )
    gamma: float | None = Field(
        None, gt=0.0, lt=1.0, description="discount of V_d/V_m; null: the run's train.gamma"
    )
    hidden: list[int] = Field(
        default_factory=lambda: [256, 256],
        min_length=1,
        description="hidden sizes of the V_d and V_m networks",
    )
    activation: Literal["relu", "swish", "tanh", "elu"] = Field(
        "relu", description="activation of the value networks"
    )
    lr: float = Field(1e-4, gt=0.0, lt=1.0, description="Adam lr of V_d and V_m (VIPO Table 4)")
    tau: float = Field(
        5e-3, gt=0.0, le=1.0, description="EMA rate of the target nets Vbar_d, Vbar_m (Sec. 3.3)"
    )
    samples: int = Field(
        1, ge=1, le=64, description="model samples (s', r) per dataset row and ensemble member"
    )
    value_steps: int = Field(
        1, ge=1, le=100, description="gradient steps of V_d and V_m per model update (Alg. 1 l.5-6)"
    )
    baseline: Literal["none", "model_value"] = Field(
        "model_value",
        description=(
            "'model_value': subtract Vbar_m(s) from r + gamma Vbar_m(s') (same expected "
            "gradient as Eq. 11, far lower variance: experiments/vipo/baseline_variance.py); "
            "'none': Eq. 11 as written (the paper and its code)"
        ),
    )
    behavior_actions: Literal["dataset"] = Field(
        "dataset", description="actions of the behavior policy: the dataset's (Eq. 10)"
    )

    def build(self, ctx: BuildContext) -> Any:
        """The runtime :class:`ValueInconsistency` aux loss."""
        from components.aux_losses._value_inconsistency import ValueInconsistency

        return ValueInconsistency(self, ctx)
