"""Config of the ``classifier_log_ratio`` reward shaper (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["ClassifierLogRatioConfig"]


class ClassifierLogRatioConfig(ComponentConfig):
    """DAMO's data-alignment reward r~ = r - alpha log(rho_M / rho_T), the log-ratio from a classifier h(s, a, s').

    DAMO Sec. 5.2: h is trained to tell model transitions from offline ones
    (Eq. 3; here as the binary cross-entropy with label 1 = model, so h = P(model | s, a, s'))
    and log(rho_M / rho_T) = log(h / (1 - h)) (Eq. 4).
    Its batch (``batch_source``): App. C.3, "at each gradient step, we randomly sample data
    from both offline dataset D_R and synthetic dataset D_M with a fixed ratio d" (Table 3:
    d = 0.5): ``buffers`` (default) draws ``batch_size`` rows per gradient step, a fraction d
    from the offline data and the rest from the model buffer, with the shaper's own
    generator (saved in its checkpoint state); ``policy_batch`` trains on the real and model
    rows of the policy batch instead (its real fraction is the policy batch's, not d).
    When it shapes (``shape_at``): Algorithm 1 lines 6-8 update h, compute the log-ratio of
    Eq. 4 with it, then update the critic, so ``sampling`` (default) shapes the model rows
    of each policy batch with the current h (the buffer keeps the raw model reward);
    ``rollout`` freezes the penalty of the h at rollout time into the buffer.
    Why the prior correction: with a fraction d of offline rows the Bayes-optimal logit is
    log(rho_M / rho_T) + log((1 - d) / d); that constant is subtracted, so any d gives the
    density ratio (it is 0 at d = 0.5). The ratio d is also enforced by weighting the two
    cross-entropy terms d : (1 - d), so it holds for ``policy_batch``'s rows too.
    Why the clip (default +-5, i.e. h in [0.0067, 0.9933]): a confident classifier's
    logit grows without bound on model-only regions; the clip bounds the per-step penalty
    at alpha * 5, comparable to a MuJoCo per-step reward, and keeps the critic's targets finite.
    """

    kind: ClassVar[str] = "reward_shaper"

    type: Literal["classifier_log_ratio"] = "classifier_log_ratio"
    alpha: float = Field(1.0, ge=0.0, description="alpha of Eq. 4 (DAMO Table 4)")
    real_fraction: float = Field(
        0.5, gt=0.0, lt=1.0, description="d: share of offline rows in the classifier loss"
    )
    logit_clip: float = Field(
        5.0, gt=0.0, description="log-ratio clipped to [-logit_clip, logit_clip]"
    )
    hidden: list[int] = Field(
        default_factory=lambda: [256, 256], min_length=1, description="classifier widths"
    )
    activation: Literal["relu", "swish", "tanh", "elu"] = Field(
        "relu", description="classifier activation"
    )
    lr: float = Field(3e-4, gt=0.0, lt=1.0, description="Adam lr of the classifier")
    train_every: int = Field(1, ge=1, description="train h every this many policy steps")
    steps: int = Field(1, ge=1, le=100, description="gradient steps per training")
    batch_size: int = Field(
        256,
        ge=2,
        description="buffers: rows per gradient step (a fraction d real); "
        "policy_batch: at most this many per class",
    )
    batch_source: Literal["buffers", "policy_batch"] = Field(
        "buffers",
        description="h's batch: its own draw from the real and model buffers (App. C.3), "
        "or the policy batch's rows",
    )
    shape_at: Literal["sampling", "rollout"] = Field(
        "sampling",
        description="shape each policy batch with the current h (Alg. 1 l. 6-8), or once at rollout",
    )

    def build(self, ctx: Any) -> Any:
        """Make the shaper (it owns h and its optimizer)."""
        from components.reward_shapers._classifier_log_ratio import ClassifierLogRatio

        return ClassifierLogRatio(self, ctx)
