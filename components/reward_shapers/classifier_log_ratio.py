"""Config of the ``classifier_log_ratio`` reward shaper (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["ClassifierLogRatioConfig"]


class ClassifierLogRatioConfig(ComponentConfig):
    """DAMO's data-alignment reward r~ = r - alpha log(rho_M / rho_T), the log-ratio from a classifier h(s, a, s').

    DAMO (damo.txt) Sec. 5.2: h is trained to tell model transitions from offline ones
    (Eq. 3; here as the binary cross-entropy with label 1 = model, so h = P(model | s, a, s'))
    and log(rho_M / rho_T) = log(h / (1 - h)) (Eq. 4). App. C.3: each training step draws
    offline and model rows with the fixed ratio d (Table 3: d = 0.5).
    Why the prior correction: with a fraction d of offline rows the Bayes-optimal logit is
    log(rho_M / rho_T) + log((1 - d) / d); that constant is subtracted, so any d gives the
    density ratio (it is 0 at d = 0.5). The ratio d is enforced by weighting the two
    cross-entropy terms d : (1 - d), so it holds whatever the rows available in a step.
    Why the clip (default +-5, i.e. h in [0.0067, 0.9933]): a confident classifier's
    logit grows without bound on model-only regions; the clip bounds the per-step penalty
    at alpha * 5, comparable to a MuJoCo per-step reward, and keeps the critic's targets finite.
    """

    kind: ClassVar[str] = "reward_shaper"

    type: Literal["classifier_log_ratio"] = "classifier_log_ratio"
    alpha: float = Field(1.0, ge=0.0, description="alpha of Eq. 4 (DAMO Table 4)")
    real_fraction: float = Field(0.5, gt=0.0, lt=1.0, description="d: share of offline rows in the classifier loss")
    logit_clip: float = Field(5.0, gt=0.0, description="log-ratio clipped to [-logit_clip, logit_clip]")
    hidden: list[int] = Field(default_factory=lambda: [256, 256], min_length=1, description="classifier widths")
    activation: Literal["relu", "swish", "tanh", "elu"] = Field("relu", description="classifier activation")
    lr: float = Field(3e-4, gt=0.0, lt=1.0, description="Adam lr of the classifier")
    train_every: int = Field(1, ge=1, description="train h every this many policy steps")
    steps: int = Field(1, ge=1, le=100, description="gradient steps per training")
    batch_size: int = Field(256, ge=2, description="rows of each class per gradient step (at most)")

    def build(self, ctx: Any) -> Any:
        """Make the shaper (it owns h and its optimizer)."""
        from components.reward_shapers._classifier_log_ratio import ClassifierLogRatio

        return ClassifierLogRatio(self, ctx)
