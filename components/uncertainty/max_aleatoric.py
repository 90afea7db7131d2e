"""Config of the ``max_aleatoric`` uncertainty (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

__all__ = ["MaxAleatoricConfig"]


class MaxAleatoricConfig(ComponentConfig):
    """MOPO's max aleatoric uncertainty: the largest predicted std norm over members.

    MOPO (Yu et al. 2020) Sec. 4.3: u(s, a) = max_i ||Sigma_i(s, a)||_F. With a diagonal
    Sigma_i given by its std vector (raw units, as the model predicts them), the Frobenius
    norm is the L2 norm of the std over the output dims.
    Why ``include_reward: true``: MOPO's reference code takes the norm over the model's whole
    output (next state and reward), and its published lambda values were tuned with it.
    Why ``members: all``: the reference code also uses every member, not only the elites.
    """

    kind: ClassVar[str] = "uncertainty"
    type: Literal["max_aleatoric"] = "max_aleatoric"

    members: Literal["all", "elites"] = Field("all", description="members the max runs over")
    include_reward: bool = Field(True, description="include the reward's std in the norm")

    def build(self, ctx: Any) -> Any:
        """Make the :class:`~components.uncertainty._max_aleatoric.MaxAleatoric` estimator."""
        from components.uncertainty._max_aleatoric import MaxAleatoric

        return MaxAleatoric(self, ctx)
