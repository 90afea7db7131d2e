"""``max_aleatoric``: u(s, a) = max_i ||sigma_i(s, a)||_2 (MOPO Sec. 4.3)."""

from __future__ import annotations

import torch
from torch import Tensor

from compose.kinds.uncertainty import MemberStatistic

__all__ = ["MaxAleatoric"]


class MaxAleatoric(MemberStatistic):
    """max over members of the L2 norm of the predicted std vector: [B]."""

    def statistic(self, mean: Tensor, std: Tensor) -> Tensor:
        """max_i ||sigma_i(s, a)||_2."""
        return torch.linalg.vector_norm(std, dim=-1).amax(0)
