"""Vectorized ensembles of MLPs: one batched matmul per layer for all members.

Reference: MBPO (Janner et al. 2019) / MOPO (Yu et al. 2020) ensemble dynamics, whose
``EnsembleFC`` layer this mirrors (weight [E, in, out], ``baddbmm`` forward).
Why: a Python loop over members costs E kernel launches per layer and dominates the runtime
of model rollouts; ``baddbmm`` does all members in one call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compose.nn.balanced import ensemble_affine
from compose.nn.spectral import EnsembleSpectralNorm

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "swish": nn.SiLU,
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "mish": nn.Mish,
}


#: In-place variants used when no graph is recorded (rollouts, target values, penalties).
_INPLACE: dict[type, Callable[[Tensor], Tensor]] = {
    nn.ReLU: torch.relu_,
    nn.SiLU: lambda h: F.silu(h, inplace=True),
    nn.Tanh: torch.tanh_,
}


def activation(name: str) -> nn.Module:
    """Return a fresh activation module by name (swish, relu, tanh, elu, leaky_relu, gelu, mish)."""
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        allowed = ", ".join(sorted(_ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; expected one of: {allowed}") from None


def activate(module: nn.Module, h: Tensor) -> Tensor:
    """``module(h)``, in place when no graph is recorded and ``h`` is a fresh layer output.

    Why: without a graph, a fresh [E, B, hidden] tensor per activation only costs
    allocation and first-touch page faults (a quarter of a rollout's time, PROFILE.md
    section 2). Callers pass only tensors they own (a layer's output, never their input).
    """
    fn = None if torch.is_grad_enabled() else _INPLACE.get(type(module))
    return fn(h) if fn is not None else module(h)


def ensemble_linear(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """y_e = x_e W_e + b_e for x [E, B, in], weight [E, in, out], bias [E, 1, out] -> [E, B, out].

    Why two paths: with ``out == 1`` (critic and value heads) ``baddbmm`` takes a slow
    matrix-vector path on CPU; a batched dot product (``linalg.vecdot``) is faster forward
    and backward (measured: compose/bench/PROFILE.md section 1). Same sums, fp-rounding apart.
    Otherwise :func:`~compose.nn.balanced.ensemble_affine`: ``baddbmm``, with the members
    balanced over CPU threads when the thread count does not divide E (7 members, 2 threads).
    """
    if weight.shape[-1] == 1:
        return torch.linalg.vecdot(x, weight.transpose(1, 2)).unsqueeze(-1) + bias
    return ensemble_affine(x, weight, bias)


class _WeightDecay(torch.autograd.Function):
    """sum_l 0.5 c_l ||W_l||^2 with the gradient c_l W_l written by two foreach kernels."""

    @staticmethod
    def forward(coefficients: tuple[float, ...], *weights: Tensor) -> Tensor:
        norms = torch.stack(torch._foreach_norm(list(weights), 2.0))
        coef = torch.tensor(coefficients, dtype=norms.dtype, device=norms.device)
        return 0.5 * torch.dot(coef, norms.pow(2))

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.coefficients = inputs[0]
        ctx.save_for_backward(*inputs[1:])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        weights = list(ctx.saved_tensors)
        if torch.is_grad_enabled():  # create_graph: differentiable ops
            grads = [grad * c * w for c, w in zip(ctx.coefficients, weights, strict=True)]
        elif grad.device.type == "cpu":  # one pass: the scale as floats (no device sync on CPU)
            g = float(grad)
            grads = torch._foreach_mul(weights, [g * c for c in ctx.coefficients])
        else:
            grads = torch._foreach_mul(weights, grad)
            torch._foreach_mul_(grads, list(ctx.coefficients))
        return (None, *grads)


def weight_decay_penalty(weights: Sequence[Tensor], coefficients: Sequence[float]) -> Tensor:
    """sum_l 0.5 * c_l * ||W_l||^2 (MBPO's per-layer L2 decay), 0 when every c_l is 0.

    Why one autograd node: per layer, ``c * 0.5 * W.pow(2).sum()`` is three forward and three
    backward kernels plus a stack; for the 6 layers of the dynamics that is ~40 small ops,
    each paying dispatch overhead. Here: one foreach norm forward, two foreach
    multiplies backward. The value is computed from the norms (fp-rounding apart).
    """
    pairs = [(w, float(c)) for w, c in zip(weights, coefficients, strict=True) if c != 0.0]
    if not pairs:
        return torch.zeros((), device=weights[0].device if weights else None)
    return _WeightDecay.apply(tuple(c for _, c in pairs), *(w for w, _ in pairs))


class EnsembleLinear(nn.Module):
    """E independent affine maps applied in one ``torch.baddbmm``: y_e = x_e W_e + b_e.

    Shapes: weight [E, in, out], bias [E, 1, out]; forward x [E, B, in] -> [E, B, out].
    Init: truncated normal with std 1/(2*sqrt(in)) per member, zero bias (MBPO's
    ``init_weights``), so each member starts like an independently initialized ``nn.Linear``.
    ``weight_decay`` is a per-layer L2 coefficient read by :meth:`decay_loss` (MBPO decays
    deeper layers more: 2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4).
    """

    def __init__(
        self, in_features: int, out_features: int, members: int, weight_decay: float = 0.0
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.members = members
        self.weight_decay = weight_decay
        self.weight = nn.Parameter(torch.empty(members, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(members, 1, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated-normal weights (std 1/(2 sqrt(in)), cut at 2 std), zero biases."""
        std = 1.0 / (2.0 * math.sqrt(self.in_features))
        nn.init.trunc_normal_(self.weight, std=std, a=-2.0 * std, b=2.0 * std)
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Apply every member to its own batch: x [E, B, in] -> [E, B, out]."""
        return ensemble_linear(x, self.weight, self.bias)

    def decay_loss(self) -> Tensor:
        """``weight_decay * 0.5 * ||W||^2`` summed over members (MBPO's per-layer decay)."""
        return self.weight_decay * 0.5 * self.weight.pow(2).sum()

    def extra_repr(self) -> str:
        """Shapes for ``print(module)``."""
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"members={self.members}, weight_decay={self.weight_decay}"
        )


class EnsembleMLP(nn.Module):
    """An ensemble of E MLPs evaluated together: Linear -> act -> ... -> Linear.

    Input [E, B, in] (each member its own batch) or [B, in] (the same batch to every member);
    output [E, B, out]. ``spectral_norm=True`` constrains every hidden layer's per-member
    spectral norm to <= 1 (Miyato et al. 2018) via :class:`EnsembleSpectralNorm`; the output
    layer stays free, as in MOBILE / RAMBO implementations that use it.
    ``weight_decays`` optionally gives one coefficient per layer (len(hidden) + 1).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int],
        members: int,
        activation_name: str = "swish",
        spectral_norm: bool = False,
        weight_decays: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        sizes = [in_features, *hidden, out_features]
        n_layers = len(sizes) - 1
        if weight_decays is None:
            weight_decays = [0.0] * n_layers
        if len(weight_decays) != n_layers:
            raise ValueError(
                f"weight_decays has {len(weight_decays)} entries; expected one per layer ({n_layers})"
            )
        self.members = members
        self.in_features = in_features
        self.out_features = out_features
        layers: list[nn.Module] = []
        for i in range(n_layers):
            layer = EnsembleLinear(sizes[i], sizes[i + 1], members, weight_decays[i])
            if spectral_norm and i < n_layers - 1:
                EnsembleSpectralNorm.apply(layer)
            layers.append(layer)
            if i < n_layers - 1:
                layers.append(activation(activation_name))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """[E, B, in] or [B, in] -> [E, B, out]."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.members, *x.shape)
        elif x.dim() != 3 or x.shape[0] != self.members:
            raise ValueError(
                f"expected input [B, {self.in_features}] or [{self.members}, B, {self.in_features}],"
                f" got {tuple(x.shape)}"
            )
        return self._layers(x)

    def _layers(self, h: Tensor) -> Tensor:
        """The layers in order; without autograd the activations run in place.

        Why: without a graph, a fresh [E, B, hidden] tensor per activation only costs
        allocation and first-touch page faults (a quarter of a rollout's time, PROFILE.md
        section 2); each activation's input is a layer's fresh output, never the caller's.
        """
        for module in self.net:
            h = activate(module, h) if not isinstance(module, EnsembleLinear) else module(h)
        return h

    def member_forward(self, x: Tensor, member: int) -> Tensor:
        """Member ``member`` alone: [B, in] -> [1, B, out] (same maths as its slice of forward).

        Why: when only one member's output is needed (VIPO's V_m at model samples) the others'
        matmuls are wasted work.
        """
        h = x.unsqueeze(0) if x.dim() == 2 else x
        for module in self.net:
            if isinstance(module, EnsembleLinear):
                w, b = module.weight, module.bias
                h = ensemble_linear(h, w[member : member + 1], b[member : member + 1])
            else:
                h = activate(module, h)
        return h

    def linear_layers(self) -> list[EnsembleLinear]:
        """The affine layers in order (for weight decay, elites, inspection)."""
        return [m for m in self.net if isinstance(m, EnsembleLinear)]

    def decay_loss(self) -> Tensor:
        """Sum of the layers' weight-decay terms (one :func:`weight_decay_penalty` call)."""
        layers = self.linear_layers()
        return weight_decay_penalty([m.weight for m in layers], [m.weight_decay for m in layers])


class MLP(nn.Module):
    """A plain MLP [B, in] -> [B, out] (V-nets, Q-nets, classifiers, actors).

    Why: one piece of code per idea — it is an :class:`EnsembleMLP` with a single member,
    so init, activations and spectral norm behave identically to the ensembles.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int],
        activation_name: str = "relu",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.body = EnsembleMLP(
            in_features, out_features, hidden, 1, activation_name, spectral_norm
        )

    def forward(self, x: Tensor) -> Tensor:
        """[..., in] -> [..., out] (any leading batch dims)."""
        lead = x.shape[:-1]
        y = self.body(x.reshape(1, -1, x.shape[-1]))
        return y.reshape(*lead, y.shape[-1])
