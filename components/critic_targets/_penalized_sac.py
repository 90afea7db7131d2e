"""The ``penalized_sac`` critic target: MOBILE's y - beta u(s, a) on model rows (VIPO Eq. 23)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from components.critic_targets._sac import SacCriticTarget
from compose.kinds import BuildContext, Dynamics, UpdateInputs

if TYPE_CHECKING:
    from components.critic_targets.penalized_sac import PenalizedSacConfig

__all__ = ["PenalizedSacCriticTarget"]


class PenalizedSacCriticTarget(SacCriticTarget):
    """Soft double-Q target minus ``beta * u(s, a)`` on rows with ``batch.from_model``.

    The uncertainty (a nested component, default ``bellman_inconsistency``) is evaluated on
    the model rows only. Finding them costs no host sync when the mixed batch has the
    layout of :meth:`Batch.cat` with ``inputs.real`` and ``inputs.model`` (their sizes are
    host ints); otherwise the number of model rows is read from the mask (one sync).
    """

    def __init__(self, config: PenalizedSacConfig, ctx: BuildContext) -> None:
        super().__init__(config, ctx)
        self.beta = float(config.beta)
        self.uncertainty = ctx.build(config.uncertainty)
        self._dynamics: Dynamics | None = ctx.dynamics

    @staticmethod
    def _model_rows(inputs: UpdateInputs) -> Tensor | None:
        """Indices of the model rows of ``inputs.batch`` (None: no model rows)."""
        batch = SacCriticTarget._batch(inputs)
        mask = batch.from_model
        if mask is None:
            return None
        n = len(batch)
        if inputs.model is not None and len(inputs.real) + len(inputs.model) == n:
            n_model = len(inputs.model)
        else:
            n_model = int(mask.sum())
        if n_model == 0:
            return None
        # A stable sort of the mask puts the real rows first and the model rows last, in
        # order: the last n_model indices are the model rows, found without a host sync.
        order = torch.argsort(mask.to(torch.uint8), stable=True)
        return order[n - n_model :]

    def penalty(self, inputs: UpdateInputs) -> tuple[Tensor | None, dict[str, Tensor]]:
        """beta * u(s, a) on model rows, 0 on real rows; penalty statistics on model rows."""
        batch = self._batch(inputs)
        rows = self._model_rows(inputs)
        zero = batch.rewards.new_zeros(())
        if rows is None or self.beta == 0.0:
            return None, {"penalty_mean": zero, "penalty_max": zero, "uncertainty_mean": zero}
        dynamics = inputs.dynamics if inputs.dynamics is not None else self._dynamics
        if dynamics is None:
            raise ValueError("critic target 'penalized_sac': no dynamics in the inputs or context")
        u = self.uncertainty(
            batch.obs.index_select(0, rows),
            batch.actions.index_select(0, rows),
            dynamics=dynamics,
            agent=self._agent(inputs),
        )
        pen = self.beta * u
        full = torch.zeros(len(batch), dtype=pen.dtype, device=pen.device).index_copy(0, rows, pen)
        return full, {
            "penalty_mean": pen.mean(),
            "penalty_max": pen.max(),
            "uncertainty_mean": u.mean(),
        }
