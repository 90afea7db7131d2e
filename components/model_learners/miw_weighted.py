"""Config of ``miw_weighted``: AMPL's periodic MIW-weighted model retraining (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from components.model_learners.mle import MLEConfig

__all__ = ["MIWWeightedConfig"]


class MIWWeightedConfig(MLEConfig):
    """MLE pretraining, then every ``retrain_every`` policy steps: fit omega(s, a), retrain by omega-weighted MLE.

    AMPL Sec. 3.1 Eq. 6, Sec. 3.3 Eq. 9-11, Algorithm 1. omega(s, a) =
    d_pi(s, a) / d_D(s, a) is fitted by the fixed-point loss (l1(omega) - l2(omega'))^2 with
    l1 = E_D[omega(s, a) Q(s, a)] and l2 = gamma E_D[omega'(s, a) Q(s', a')] +
    (1 - gamma) E_mu0[Q(s0, a0)], a' ~ pi(s'), a0 ~ pi(s0), s0 from the dataset's episode
    starts, omega' a Polyak-averaged target. Each critic Q_k of the current agent is one test
    function (the loss sums the K squared gaps). Then omega is normalized to mean 1 over the
    dataset and the dynamics takes ``model_steps`` Adam steps on E_D[omega * -log P(s', r | s, a)]
    (Eq. 6). Pretraining is the ``mle`` learner's (holdout early stopping, elites).
    Why gamma in l2: Eq. 10 as printed omits it, but summing Eq. 9 (which has it) against a
    test function gives gamma E[omega Q(s', a')]; with Q = 1 only that version is consistent
    (1 = gamma + 1 - gamma). Why test functions rescaled by their mean |Q|: the zero set of
    the loss is unchanged and its scale stays O(1) whatever the reward scale.
    Why Q(s', a') = 0 at terminal s': termination is absorbing with zero value.
    Why the defaults: AMPL retrains every 100 epochs (Fig. 2; an epoch is 1000 steps);
    the appendix with the rest (E.1) is not in papers/: omega is a 2 x 256 ReLU MLP with a
    softplus output, Adam 3e-4, tau 5e-3, 2000 steps per fit; 2000 weighted-MLE steps.
    ``weighted: false`` is the paper's "NW" ablation (periodic retraining without weights).
    """

    kind: ClassVar[str] = "model_learner"
    type: Literal["miw_weighted"] = "miw_weighted"  # type: ignore[assignment]
    #: The model phase is the plain ``mle`` fit; these act only in the policy phase's retrains,
    #: so AMPL and its NW ablation share one cached pretrained model.
    policy_phase_fields: ClassVar[frozenset[str]] = MLEConfig.policy_phase_fields | frozenset(
        {
            "retrain_every",
            "weighted",
            "miw_steps",
            "miw_batch_size",
            "miw_lr",
            "miw_tau",
            "test_function",
            "model_steps",
            "model_lr",
            "weight_chunk",
        }
    )

    def trains_in_policy_phase(self) -> bool:
        """True: the model is retrained every ``retrain_every`` policy steps."""
        return True

    retrain_every: int = Field(100_000, gt=0, description="policy steps between retrains (Alg. 1)")
    weighted: bool = Field(
        True, description="weight the retraining MLE by omega (false: AMPL's NW ablation)"
    )
    miw_steps: int = Field(2000, ge=0, description="gradient steps of omega per retrain (Eq. 11)")
    miw_batch_size: int = Field(
        256, gt=0, description="dataset rows and initial states per omega step"
    )
    miw_hidden: list[int] = Field(
        default_factory=lambda: [256, 256], description="omega network widths"
    )
    miw_lr: float = Field(3e-4, gt=0.0, lt=1.0, description="Adam lr of omega")
    miw_tau: float = Field(5e-3, gt=0.0, le=1.0, description="Polyak rate of the target omega'")
    test_function: Literal["each_critic", "min_critic"] = Field(
        "each_critic", description="test functions: every critic Q_k, or min_k Q_k alone"
    )
    model_steps: int = Field(2000, ge=0, description="weighted-MLE Adam steps per retrain (Eq. 6)")
    model_lr: float = Field(1e-3, gt=0.0, lt=1.0, description="Adam lr of the weighted retraining")
    weight_chunk: int = Field(
        65536, gt=0, description="rows per forward when weighting the dataset"
    )

    def build(self, ctx: Any) -> Any:
        """Make the :class:`~components.model_learners._miw_weighted.MIWWeightedLearner`."""
        from components.model_learners._miw_weighted import MIWWeightedLearner

        return MIWWeightedLearner(self, ctx)
