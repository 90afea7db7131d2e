"""Config of the ``halt`` reward shaper (torch-free)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig
from compose.slots import UncertaintySlot

__all__ = ["HaltConfig"]


class HaltConfig(ComponentConfig):
    """MOReL's pessimistic MDP: unknown (s, a) lead to an absorbing HALT state with reward -kappa.

    MOReL (Kidambi et al. 2020), the P-MDP: with the USAD U(s, a) = [disc(s, a) > threshold],
    a transition from an unknown pair goes to HALT and earns -kappa; known pairs keep the
    model's reward. Here: rows with u(s, a) > threshold get reward -kappa, and the shaper
    returns them as ``Shaped.terminate`` [B] (bool) so the rollout ends them.
    The threshold is ``threshold`` itself (``absolute``), ``threshold`` x the largest u on
    the offline data (``data_max``), or mean + ``threshold`` x std of u on the data
    (``data_mean_std``), measured once, on the first rollout, when the model is fitted.
    The rollout stores HALT rows as terminal, does not continue them, and logs their
    fraction as ``reward_shaper/terminate``.
    """

    kind: ClassVar[str] = "reward_shaper"
    type: Literal["halt"] = "halt"

    kappa: float = Field(100.0, ge=0.0, description="HALT reward is -kappa")
    threshold: float = Field(1.0, gt=0.0, description="USAD threshold (see threshold_mode)")
    threshold_mode: Literal["absolute", "data_max", "data_mean_std"] = Field(
        "data_max", description="how threshold turns into the cut-off on u(s, a)"
    )
    calibration_rows: int = Field(
        50_000, gt=0, description="offline rows (at most) on which u is measured"
    )
    calibration_seed: int = Field(0, ge=0, description="seed of the row choice (private RNG)")
    uncertainty: UncertaintySlot = Field(  # type: ignore[assignment]
        default="max_pairwise_diff", description="the discrepancy u(s, a)"
    )

    def build(self, ctx: Any) -> Any:
        """Make the :class:`~compose_morel._halt.Halt` shaper."""
        from compose_morel._halt import Halt

        return Halt(self, ctx)
