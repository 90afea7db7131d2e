"""Config of the ``q_normalized`` actor objective (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["QNormalizedConfig"]


class QNormalizedConfig(ComponentConfig):
    """AMPL's actor loss -lambda' / Q_avg * mean min_k Q_k(s, pi(s)), Q_avg soft-updated.

    AMPL Sec. 3.4, Eq. 17 (the L_g term is the actor aux loss
    ``rollout_discriminator``); lambda' = 10 on every dataset. Q_avg follows Fujimoto & Gu
    (TD3+BC): the mean |Q| of the batch, here smoothed by a running average
    Q_avg <- (1 - tau) Q_avg + tau mean|Q| (initialized at the first batch).
    Why mean |Q| and ``q_avg_tau`` = 5e-3: TD3+BC normalizes by mean |Q|; the paper says
    "soft-updated" without a rate, so the critic's Polyak rate is reused.
    No entropy term: the implicit policy has no density.
    """

    kind: ClassVar[str] = "actor_objective"
    needs_log_prob: ClassVar[bool] = False

    type: Literal["q_normalized"] = "q_normalized"
    lambda_prime: float = Field(
        10.0, gt=0.0, description="lambda' in lambda = lambda' / Q_avg (Eq. 17)"
    )
    q_avg_tau: float = Field(5e-3, gt=0.0, le=1.0, description="soft-update rate of Q_avg")
    q_over: Literal["min", "mean"] = Field(
        "min", description="reduction over critics (Eq. 17: min)"
    )
    eps: float = Field(1e-6, gt=0.0, description="floor of Q_avg")

    def build(self, ctx: Any) -> Any:
        """Make the actor objective (it owns the Q_avg buffer)."""
        from components.actor_objectives._q_normalized import QNormalizedObjective

        return QNormalizedObjective(self, ctx)
