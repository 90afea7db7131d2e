"""Config of the ``conservative_q`` critic aux loss (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["ConservativeQConfig"]


class ConservativeQConfig(ComponentConfig):
    """COMBO's conservative penalty beta (E_rho[Q] - E_D[Q]): Q down on model states, up on data.

    COMBO (Yu et al. 2021; summarized in algorithms.md), the CQL(rho) regularizer with rho the
    model rollouts' state distribution times an action distribution:
    ``logsumexp`` (default, as COMBO's released code, which follows CQL(H)):
    E_{s ~ model}[log (1/2N) sum_i exp(Q(s, a_i) - log mu(a_i))] - E_{(s, a) ~ D}[Q(s, a)]
    with N uniform actions (mu = uniform on the action box) and N policy actions
    (mu = pi(a|s), when the policy has a density; otherwise no correction);
    ``difference``: (E_{model}[Q(s, a)] + E_{s ~ model}[Q(s, pi(s))]) / 2 - E_D[Q(s, a)],
    the plain CQL(rho) difference with rho = the model's own actions and the policy's.
    Every critic gets its own penalty (summed over critics, like the TD loss).
    Why beta = 1: COMBO tunes beta in {0.5, 1, 5}; 1 is the middle of its grid.
    """

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("critic",)

    type: Literal["conservative_q"] = "conservative_q"
    weight: float = Field(1.0, ge=0.0, description="beta, the weight of the penalty")
    variant: Literal["logsumexp", "difference"] = Field(
        "logsumexp",
        description="CQL(H)-style logsumexp over sampled actions, or the plain difference",
    )
    num_actions: int = Field(
        10, ge=1, le=256, description="N: uniform and policy actions per state (logsumexp)"
    )
    importance_sampling: bool = Field(
        True, description="subtract log mu(a) of the sampled actions (logsumexp variant)"
    )

    def build(self, ctx: Any) -> Any:
        """Make the aux loss."""
        from components.aux_losses._conservative_q import ConservativeQ

        return ConservativeQ(self, ctx)
