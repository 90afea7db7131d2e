"""Per-member matmuls of an ensemble, balanced over CPU threads when the threads do not divide E.

Why: MKL's batched GEMM behind ``torch.bmm``/``baddbmm`` on CPU splits the *members* over the
threads; 7 members on 2 threads run as 4 + 3, so a bmm over 7 members takes as long as one
over 8 (figures in compose/bench/PROFILE.md). Here the first E - E % T members go to one
batched call (E // T each per thread) and the E % T left over run one at a time as 2-D GEMMs,
which MKL splits inside.
Same products, summed in the same order per output element (fp-rounding apart).
Used only where it can pay: CPU, plain tensors (not under vmap/grad transforms or while
torch.compile traces), T >= 2, E > T, E % T != 0, and at least ``MIN_MACS`` multiply-adds per
member.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["MIN_MACS", "balanced_bmm", "balanced_split", "ensemble_affine"]

#: Per-member multiply-adds (rows x in x out) below which the plain batched call is kept: the
#: extra calls cost a few microseconds each, and small products gain nothing.
MIN_MACS = 1 << 22

_is_wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)


def balanced_split(a: Tensor, b: Tensor) -> int | None:
    """How many leading members go to the batched call, or None for one plain call.

    ``a`` [E, M, K] times ``b`` [E, K, N].
    """
    threads = torch.get_num_threads()
    members = a.shape[0]
    rest = members % threads if threads > 1 else 0
    if rest == 0 or members <= threads or a.device.type != "cpu":
        return None
    if a.shape[1] * a.shape[2] * b.shape[2] < MIN_MACS:
        return None
    if torch.compiler.is_compiling() or (
        _is_wrapped is not None and (_is_wrapped(a) or _is_wrapped(b))
    ):
        return None
    return members - rest


def balanced_bmm(a: Tensor, b: Tensor, bias: Tensor | None = None) -> Tensor:
    """``torch.bmm(a, b)`` (or ``baddbmm(bias, a, b)``) with the members balanced over threads.

    No autograd of its own (see :func:`ensemble_affine`). ``bias`` broadcasts as [E, 1, N].
    """
    split = balanced_split(a, b)
    if split is None:
        return torch.bmm(a, b) if bias is None else torch.baddbmm(bias, a, b)
    return _split_bmm(a, b, bias, split)


def _split_bmm(a: Tensor, b: Tensor, bias: Tensor | None, split: int) -> Tensor:
    """Members [0, split) in one batched call, the rest one 2-D GEMM each, into one output."""
    members, rows, cols = a.shape[0], a.shape[1], b.shape[2]
    out = torch.empty(members, rows, cols, dtype=torch.result_type(a, b), device=a.device)
    if bias is None:
        torch.bmm(a[:split], b[:split], out=out[:split])
        for e in range(split, members):
            torch.mm(a[e], b[e], out=out[e])
    else:
        bias = bias.expand(members, 1, cols)
        torch.baddbmm(bias[:split], a[:split], b[:split], out=out[:split])
        for e in range(split, members):
            torch.addmm(bias[e], a[e], b[e], out=out[e])
    return out


class _BalancedAffine(torch.autograd.Function):
    """y = x W + b per member, forward and backward as :func:`_split_bmm` calls.

    Backward: dx = dy W^T, dW = x^T dy, db = sum_rows dy (what ``baddbmm``'s backward does),
    with the forward's member split. Under ``create_graph`` it uses plain differentiable ops.
    """

    @staticmethod
    def forward(x: Tensor, weight: Tensor, bias: Tensor, split: int) -> Tensor:
        return _split_bmm(x, weight, bias, split)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        x, weight, _, split = inputs
        ctx.save_for_backward(x, weight)
        ctx.split = split

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b, _ = ctx.needs_input_grad
        if torch.is_grad_enabled():  # create_graph: differentiable ops
            gx = torch.bmm(grad, weight.transpose(1, 2)) if need_x else None
            gw = torch.bmm(x.transpose(1, 2), grad) if need_w else None
        else:
            gx = _split_bmm(grad, weight.transpose(1, 2), None, ctx.split) if need_x else None
            gw = _split_bmm(x.transpose(1, 2), grad, None, ctx.split) if need_w else None
        gb = grad.sum(1, keepdim=True) if need_b else None
        return gx, gw, gb, None


def ensemble_affine(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``torch.baddbmm(bias, x, weight)`` for x [E, B, in], weight [E, in, out], bias [E, 1, out],
    balanced over threads where that pays (with autograd)."""
    split = balanced_split(x, weight)
    if split is None or bias.dim() != 3 or bias.shape[0] != x.shape[0] or bias.shape[1] != 1:
        return torch.baddbmm(bias, x, weight)
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or bias.requires_grad):
        return _BalancedAffine.apply(x, weight, bias, split)
    return _split_bmm(x, weight, bias, split)
