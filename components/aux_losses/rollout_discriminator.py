"""Config of the ``rollout_discriminator`` actor aux loss (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["RolloutDiscriminatorConfig"]


class RolloutDiscriminatorConfig(ComponentConfig):
    """AMPL's JSD policy regularizer: a GAN discriminator D(s, a), data vs one-step model rollouts.

    AMPL Sec. 3.2 Eq. 8 and Sec. 3.4 Eq. 14-16: true = dataset (s, a); fake =
    [(s, a); (s', a')] with s from the training batch, a ~ pi(s), s' ~ P_hat(s, a), a' ~ pi(s').
    D_psi (its own Adam) maximizes Eq. 16 in ``update``; the actor gets
    L_g = mean_fake log(1 - D(s, a)) (Eq. 15), through a and a' only.
    Why ``generator_loss``: "minimax" is Eq. 15 as printed; "non_saturating" (-log D, the
    usual GAN stabilization, Goodfellow et al. 2014) is offered because the appendix with
    AMPL's GAN tricks (E.2.1) is not available.
    Why D lr 1e-4 and [256, 256]: the actor's size and lr; the paper's values are in its
    appendix, not in papers/.
    """

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("actor",)

    type: Literal["rollout_discriminator"] = "rollout_discriminator"
    weight: float = Field(1.0, ge=0.0, description="multiplier of L_g (Eq. 17: 1)")
    generator_loss: Literal["minimax", "non_saturating"] = Field(
        "minimax", description="log(1 - D) as in Eq. 15, or -log D"
    )
    hidden: list[int] = Field(
        default_factory=lambda: [256, 256], min_length=1, description="D widths"
    )
    activation: Literal["relu", "swish", "tanh", "elu", "leaky_relu"] = Field(
        "relu", description="D activation"
    )
    lr: float = Field(1e-4, gt=0.0, lt=1.0, description="Adam lr of D")
    steps: int = Field(1, ge=1, le=100, description="D gradient steps per policy step")

    def build(self, ctx: Any) -> Any:
        """Make the aux loss (it owns D and its optimizer)."""
        from components.aux_losses._rollout_discriminator import RolloutDiscriminator

        return RolloutDiscriminator(self, ctx)
