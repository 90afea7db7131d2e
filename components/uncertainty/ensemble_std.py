"""Config of the ``ensemble_std`` uncertainty (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["EnsembleStdConfig"]


class EnsembleStdConfig(ComponentConfig):
    """Ensemble disagreement: the norm of the std across members of the predicted means.

    u(s, a) = || Std_i mu_i(s, a) ||_2, the std taken per output dim over members, the norm
    over output dims (raw units); an epistemic estimate (Lakshminarayanan et al. 2017),
    MOPO Sec. 5.3's "ensemble penalty" ablation.
    Why ``unbiased: false``: the population std over a fixed set of members; set true for
    the Bessel-corrected sample std.
    """

    kind: ClassVar[str] = "uncertainty"
    type: Literal["ensemble_std"] = "ensemble_std"

    members: Literal["all", "elites"] = Field("all", description="members the std runs over")
    include_reward: bool = Field(True, description="include the reward mean's disagreement")
    unbiased: bool = Field(False, description="Bessel-corrected std over members")

    def build(self, ctx: Any) -> Any:
        """Make the :class:`~components.uncertainty._ensemble_std.EnsembleStd` estimator."""
        from components.uncertainty._ensemble_std import EnsembleStd

        return EnsembleStd(self, ctx)
