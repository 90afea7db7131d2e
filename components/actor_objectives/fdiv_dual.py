"""Config of the ``fdiv_dual`` actor objective (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from components.critic_targets.fdiv_dual import Conjugate, InitialStateSource
from compose.registry import ComponentConfig

__all__ = ["FdivDualActorConfig"]


class FdivDualActorConfig(ComponentConfig):
    """DAMO's outer maximization: max_pi (1-gamma) E_mu0[min_k Q_k(s0, pi)] + alpha E_rho[f*(Phi / alpha)].

    DAMO Eq. 2, with alpha fixed to 1.0 in the actor (App. C.2, after ODICE and
    Sikchi et al.). Phi = r~ + gamma (min_k Q_k(s', a') - alpha_ent log pi(a'|s')) - min_k Q_k(s, a)
    with a' ~ pi(s') reparameterized (the policy's gradient path), the same f* as the
    critic target ``fdiv_dual`` (keep ``conjugate`` equal to the critic's).
    App. C.3: "double Q-learning and entropy regularizer": the min over critics, plus SAC's
    entropy term alpha_ent E_s[log pi(a|s)] with alpha_ent auto-tuned towards -dim(A)
    (the temperature the critic's soft backup uses). s0 ~ mu0 as the critic target's
    ``initial_states`` (default: random dataset states, DAMO Sec. 7).
    """

    kind: ClassVar[str] = "actor_objective"
    needs_log_prob: ClassVar[bool] = True

    type: Literal["fdiv_dual"] = "fdiv_dual"
    alpha: float = Field(
        1.0, gt=0.0, description="alpha of Eq. 2 in the actor (App. C.2: fixed 1.0)"
    )
    conjugate: Conjugate = Field(
        "paper", description="which f* (as the critic target's; App. C.1 as printed)"
    )
    initial_states: InitialStateSource = Field(
        "dataset_states",
        description="s0 ~ mu0: random dataset states (Sec. 7), episode starts, or the batch states",
    )
    auto_entropy: bool = Field(True, description="tune the entropy temperature alpha_ent")
    entropy_alpha: float = Field(0.2, gt=0.0, description="initial (or fixed) alpha_ent")
    entropy_lr: float = Field(1e-4, gt=0.0, lt=1.0, description="Adam lr of log alpha_ent")
    target_entropy: float | Literal["auto"] = Field("auto", description='"auto" = -act_dim')

    def build(self, ctx: Any) -> Any:
        """Make the actor objective (it owns log alpha_ent and its optimizer)."""
        from components.actor_objectives._fdiv_dual import FdivDualActor

        return FdivDualActor(self, ctx)
