"""Config of the ``fdiv_dual`` critic target (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["FdivDualCriticConfig", "Conjugate", "InitialStateSource"]

#: Which convex conjugate f* to use (see the implementation module for the derivations):
#: ``ratio_domain``: f(x) = (x-1)^3/3 on x >= 0 (the domain of a density ratio):
#:     f*(y) = 1/3 for y < 1/4, y + (2/3) y^(3/2) for y >= 1/4;
#: ``convex_domain``: the same f on x >= 1, where it is convex: f*(y) = y + (2/3) max(y, 0)^(3/2);
#: ``paper``: DAMO App. C.1's printed formula (2/3)(y-1)^(3/2), extended by 0 below y = 1;
#:     it is the exact conjugate of g(x) = x + x^3/3 on x >= 0, not of the paper's f.
Conjugate = Literal["ratio_domain", "convex_domain", "paper"]

#: Where s0 ~ mu0 comes from in Eq. 2's (1 - gamma) E_mu0[Q(s0, pi)]:
#: ``dataset_states``: uniformly random offline-dataset states (DAMO Sec. 7, what DAMO does);
#: ``episode_starts``: the dataset's episode-start states; ``batch``: the batch's own states.
InitialStateSource = Literal["dataset_states", "episode_starts", "batch"]


class FdivDualCriticConfig(ComponentConfig):
    """DAMO's inner minimization: min_Q (1-gamma) E_mu0[Q(s0, pi)] + alpha E_rho[f*(Phi / alpha)].

    DAMO Sec. 5.1 Eq. 2 with Phi = r~ + gamma Q(s', a') - Q(s, a), a' ~ pi(s'),
    where r~ = r - alpha log(h / (1 - h)) is already in the batch (reward shaper
    ``classifier_log_ratio``, Eq. 4); f is App. C.1's f(x) = (x-1)^3/3.
    The conjugate: App. C.1 prints f*(y) = (2/3)(y-1)^(3/2), which is NOT the conjugate of
    that f (at y = 1 it gives 0, while sup_{x>=1} (x - (x-1)^3/3) = 5/3 at x = 2). The
    default is that printed formula (``paper``, extended by 0 below y = 1): it is what
    produced DAMO's Table 2. The exact conjugates stay options: over all reals f* = +inf
    (the cubic is unbounded below), and f is convex only on x >= 1; ``ratio_domain`` takes
    the sup over x >= 0, the domain of the density ratio rho_T / rho_M that x stands for:
    f*(y) = 1/3 for y < 1/4 (the sup is at x = 0) and y + (2/3) y^(3/2) above (at
    x = 1 + sqrt(y)); its derivative, the implied ratio, is 0 below y = 1/4 and
    1 + sqrt(y) >= 1.5 above; ``convex_domain`` takes it over x >= 1. Each is tested
    against sup_x (x y - f(x)) of its generator on a grid.
    Each critic k minimizes its own objective (double Q: the actor takes the min).
    Why ``bootstrap`` = online: Eq. 2 is a minimization over Q in which Q(s', a') appears;
    its true gradient keeps the initial-state term and the f* term balanced (the telescoping
    of DICE objectives); ``target`` uses min_k Qbar_k(s', a') without gradient instead.
    Why ``initial_states`` = dataset_states: the offline data does not mark initial states,
    so DAMO samples s0 uniformly from the dataset's states (DAMO Sec. 7, limitations);
    ``episode_starts`` (the dataset's episode starts) and ``batch`` stay options.
    """

    kind: ClassVar[str] = "critic_target"
    needs_log_prob: ClassVar[bool] = True

    type: Literal["fdiv_dual"] = "fdiv_dual"
    alpha: float = Field(
        1.0, gt=0.0, description="alpha of Eq. 2 (DAMO Table 4; match the reward shaper's)"
    )
    conjugate: Conjugate = Field(
        "paper", description="which f* (App. C.1 as printed; see module docs)"
    )
    bootstrap: Literal["online", "target"] = Field(
        "online",
        description="Q(s', a') from the trained critic (true gradient) or the target critics",
    )
    backup_entropy: bool = Field(
        True, description="soft backup: subtract alpha_ent log pi(a'|s') in Phi"
    )
    initial_states: InitialStateSource = Field(
        "dataset_states",
        description="s0 ~ mu0: random dataset states (Sec. 7), episode starts, or the batch states",
    )

    def build(self, ctx: Any) -> Any:
        """Make the critic target (it keeps the pool of initial states)."""
        from components.critic_targets._fdiv_dual import FdivDualCritic

        return FdivDualCritic(self, ctx)
