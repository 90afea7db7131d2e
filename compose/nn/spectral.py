"""Per-member spectral normalization for ensemble weights [E, in, out], vectorized over E.

Reference: Miyato et al. 2018, "Spectral Normalization for GANs": W_sn = W / sigma(W) with
sigma estimated by power iteration, one step per training forward.
Why: ``torch.nn.utils.parametrizations.spectral_norm`` flattens a 3-D weight into one matrix
and so would normalize the whole ensemble by one shared sigma; members must be independent.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize


class EnsembleSpectralNorm(nn.Module):
    """Parametrization W [E, in, out] -> W / sigma_e, one batched power-iteration step per call.

    The singular-vector estimates ``u`` [E, in] and ``v`` [E, out] are buffers (saved in the
    state_dict, so a resumed run continues the same iteration). In eval mode no iteration runs.
    """

    def __init__(self, weight: Tensor, eps: float = 1e-12) -> None:
        super().__init__()
        members, n_in, n_out = weight.shape
        self.eps = eps
        generator = torch.Generator().manual_seed(0)
        u = torch.randn(members, n_in, generator=generator)
        v = torch.randn(members, n_out, generator=generator)
        self.register_buffer("u", F.normalize(u, dim=-1, eps=eps))
        self.register_buffer("v", F.normalize(v, dim=-1, eps=eps))

    @staticmethod
    def apply(layer: nn.Module, name: str = "weight") -> nn.Module:
        """Register the parametrization on ``layer.<name>`` and return the layer."""
        parametrize.register_parametrization(
            layer, name, EnsembleSpectralNorm(getattr(layer, name).detach())
        )
        return layer

    def forward(self, weight: Tensor) -> Tensor:
        """Return ``weight / sigma`` with sigma_e = u_e^T W_e v_e per member."""
        if self.training:
            with torch.no_grad():
                u = F.normalize(torch.einsum("eio,eo->ei", weight, self.v), dim=-1, eps=self.eps)
                v = F.normalize(torch.einsum("eio,ei->eo", weight, u), dim=-1, eps=self.eps)
                self.u.copy_(u)
                self.v.copy_(v)
        # Clones: u and v are saved for backward, and a later access of the weight (weight
        # decay, a second forward) updates the buffers in place before backward runs.
        sigma = torch.einsum("ei,eio,eo->e", self.u.clone(), weight, self.v.clone())
        return weight / sigma.clamp_min(self.eps).view(-1, 1, 1)
