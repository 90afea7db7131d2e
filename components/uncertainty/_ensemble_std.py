"""``ensemble_std``: u(s, a) = ||Std_i mu_i(s, a)||_2 (ensemble disagreement)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from compose.kinds.uncertainty import MemberStatistic

__all__ = ["EnsembleStd"]


class EnsembleStd(MemberStatistic):
    """Norm over output dims of the per-dim std of the members' means: [B]."""

    def __init__(self, config: Any, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        self.correction = 1 if config.unbiased else 0

    def statistic(self, mean: Tensor, std: Tensor) -> Tensor:
        """||Std_i mu_i(s, a)||_2 over output dims."""
        return torch.linalg.vector_norm(torch.std(mean, dim=0, correction=self.correction), dim=-1)
