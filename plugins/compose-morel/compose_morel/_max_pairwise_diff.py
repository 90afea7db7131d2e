"""``max_pairwise_diff``: disc(s, a) = max_{i,j} ||mu_i - mu_j||_2 (MOReL's USAD)."""

from __future__ import annotations

import torch
from torch import Tensor

from compose.kinds.uncertainty import MemberStatistic

__all__ = ["MaxPairwiseDiff"]


class MaxPairwiseDiff(MemberStatistic):
    """All member pairs at once with ``torch.cdist`` over the member axis: [B]."""

    def statistic(self, mean: Tensor, std: Tensor) -> Tensor:
        """max_{i,j} ||mu_i - mu_j||_2 per row."""
        per_row = mean.transpose(0, 1).contiguous()  # [B, E, D]
        # Exact Euclidean distances (no matmul shortcut, which loses precision near 0).
        dist = torch.cdist(per_row, per_row, compute_mode="donot_use_mm_for_euclid_dist")
        return dist.flatten(1).amax(1)
