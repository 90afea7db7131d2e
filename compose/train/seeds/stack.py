"""K seeds' modules and optimizers as stacked [K, ...] tensors, each seed holding views.

Why: to train K independent seeds as one batch, every parameter and buffer of the K copies
of a run is stacked along a new leading dimension, and each copy's module gets its slice back
as a *view* (``nn.Parameter(stacked[k])`` shares the storage). One optimizer over the
stacked tensors then updates all seeds in one fused call, and every per-seed piece of code
that reads a module (rollouts, evaluation, checkpoints) sees the current values without a
copy. Elementwise optimizers (Adam, AdamW, SGD, RMSprop, Adagrad) applied to a stacked tensor
are exactly K independent optimizers: no statistic mixes seeds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["SeedStack", "SeedStackError", "flat_params"]

#: Optimizers whose update of a tensor is elementwise (no norm or statistic across entries).
ELEMENTWISE_OPTIMIZERS = (
    torch.optim.Adam,
    torch.optim.AdamW,
    torch.optim.SGD,
    torch.optim.RMSprop,
    torch.optim.Adagrad,
)


class SeedStackError(ValueError):
    """The K copies cannot be stacked (different structure, a non-elementwise optimizer...)."""


def _sites(module: nn.Module, kind: str) -> dict[int, list[tuple[nn.Module, str]]]:
    """Every (owner module, attribute) where each parameter/buffer is registered, by identity."""
    sites: dict[int, list[tuple[nn.Module, str]]] = {}
    for owner in module.modules():
        table = owner._parameters if kind == "param" else owner._buffers
        for leaf, value in table.items():
            if value is not None:
                sites.setdefault(id(value), []).append((owner, leaf))
    return sites


class SeedStack:
    """Stacks the parameters and buffers of ``copies`` (one module tree per seed).

    ``params`` / ``buffers`` map the first copy's names to the stacked tensors (parameters
    as leaves without ``requires_grad``: gradients are assigned by the caller). After
    construction every copy's parameters are views of the stack; :meth:`optimizers` builds
    the stacked optimizers and re-points each seed's own optimizers at the views.
    """

    def __init__(self, copies: Sequence[nn.Module]) -> None:
        if not copies:
            raise SeedStackError("no copies to stack")
        self.copies = list(copies)
        self.k = len(self.copies)
        first = self.copies[0]
        named = [dict(c.named_parameters()) for c in self.copies]
        named_buffers = [dict(c.named_buffers()) for c in self.copies]
        for k, (params, buffers) in enumerate(zip(named, named_buffers, strict=True)):
            if params.keys() != named[0].keys() or buffers.keys() != named_buffers[0].keys():
                raise SeedStackError(f"seed copy {k} has a different module structure than copy 0")
        self.param_names = list(named[0])
        self.buffer_names = list(named_buffers[0])
        #: per seed: id(original parameter) -> its view in the stack (to re-point optimizers)
        self._view_of: list[dict[int, nn.Parameter]] = [{} for _ in self.copies]
        self.params: dict[str, Tensor] = {}
        self.buffers: dict[str, Tensor] = {}
        sites = [_sites(c, "param") for c in self.copies]
        for name in self.param_names:
            self.params[name] = self._stack(name, [p[name] for p in named])
            for k, copy_params in enumerate(named):
                old = copy_params[name]
                view = nn.Parameter(self.params[name][k], requires_grad=old.requires_grad)
                for owner, leaf in sites[k][id(old)]:
                    owner._parameters[leaf] = view
                self._view_of[k][id(old)] = view
        buffer_sites = [_sites(c, "buffer") for c in self.copies]
        for name in self.buffer_names:
            self.buffers[name] = self._stack(name, [b[name] for b in named_buffers])
            for k, copy_buffers in enumerate(named_buffers):
                old = copy_buffers[name]
                for owner, leaf in buffer_sites[k][id(old)]:
                    owner._buffers[leaf] = self.buffers[name][k]
        self._name_of = {id(p): n for n, p in first.named_parameters()}
        #: (stacked optimizer, the seeds' optimizers it stands for), for export
        self._exported: list[tuple[torch.optim.Optimizer, tuple[torch.optim.Optimizer, ...]]] = []
        # every place the first copy's tensors are registered, by stack name (for swapped())
        first_params, first_buffers = _sites(first, "param"), _sites(first, "buffer")
        self._sites: dict[str, list[tuple[nn.Module, str, str]]] = {}
        for name, p in first.named_parameters():
            self._sites[name] = [(o, leaf, "param") for o, leaf in first_params[id(p)]]
        for name, b in first.named_buffers():
            self._sites[name] = [(o, leaf, "buffer") for o, leaf in first_buffers[id(b)]]

    @contextmanager
    def swapped(self, values: dict[str, Tensor]) -> Iterator[None]:
        """The first copy's modules hold ``values`` (by stack name) instead of their tensors.

        Why not ``torch.func.functional_call``: with a module registered under two names
        (a component keeping the dynamics as a submodule) it restores one name with the
        swapped-in tensor, so a batched tensor escapes the vmap (torch 2.13). Here each
        registration site is saved once and restored exactly.
        """
        saved: list[tuple[dict[str, Any], str, Any]] = []
        try:
            for name, value in values.items():
                for owner, leaf, kind in self._sites[name]:
                    table = owner._parameters if kind == "param" else owner._buffers
                    saved.append((table, leaf, table[leaf]))
                    table[leaf] = value
            yield
        finally:
            for table, leaf, original in reversed(saved):
                table[leaf] = original

    def _stack(self, name: str, tensors: list[Tensor]) -> Tensor:
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) != 1 or len({t.dtype for t in tensors}) != 1:
            raise SeedStackError(
                f"'{name}' differs in shape or dtype between seeds ({sorted(shapes)}): the "
                "seeds of one batch must build identical modules"
            )
        return torch.stack([t.detach() for t in tensors]).contiguous()

    def state(self) -> dict[str, Tensor]:
        """Every stacked parameter and buffer by name (what a vmapped call is given)."""
        return {**self.params, **self.buffers}

    def names_of(self, params: Sequence[Tensor]) -> list[str]:
        """The stack names of the first copy's ``params`` (its current views)."""
        try:
            return [self._name_of[id(p)] for p in params]
        except KeyError:
            raise SeedStackError(
                "a parameter is not part of the stacked modules (an optimizer or component "
                "holds a tensor outside every slot)"
            ) from None

    def optimizers(
        self, per_seed: Sequence[Sequence[torch.optim.Optimizer]]
    ) -> list[torch.optim.Optimizer]:
        """One stacked optimizer per position in ``per_seed[k]`` (the same list for each seed).

        Each seed's optimizers are re-pointed at that seed's views (so a per-seed checkpoint
        holds them), and any state they hold (a resumed run) is stacked into the new one.
        """
        stacked_opts = []
        for position, opts in enumerate(zip(*per_seed, strict=True)):
            first = opts[0]
            if not isinstance(first, ELEMENTWISE_OPTIMIZERS):
                raise SeedStackError(
                    f"optimizer {type(first).__name__} (position {position}) is not elementwise; "
                    "seed batching supports Adam, AdamW, SGD, RMSprop and Adagrad"
                )
            for k, opt in enumerate(opts):
                self._repoint(k, opt)
            groups = []
            for g, group in enumerate(first.param_groups):
                names = self.names_of(group["params"])
                settings = {key: value for key, value in group.items() if key != "params"}
                groups.append({**settings, "params": [self.params[n] for n in names]})
                for k, opt in enumerate(opts):
                    if len(opt.param_groups[g]["params"]) != len(names):
                        raise SeedStackError(f"seed {k}'s optimizer {position} has other groups")
            stacked = type(first)(groups, **first.defaults)
            self._stack_state(stacked, opts)
            stacked_opts.append(stacked)
        self._exported.extend(zip(stacked_opts, zip(*per_seed, strict=True), strict=True))
        return stacked_opts

    def _repoint(self, k: int, opt: torch.optim.Optimizer) -> None:
        views = self._view_of[k]
        for group in opt.param_groups:
            olds = group["params"]
            group["params"] = [views.get(id(p), p) for p in olds]
            for old, new in zip(olds, group["params"], strict=True):
                if old is not new and old in opt.state:
                    opt.state[new] = opt.state.pop(old)

    @staticmethod
    def _stack_state(stacked: torch.optim.Optimizer, opts: Sequence[torch.optim.Optimizer]) -> None:
        """Stack the seeds' optimizer states (present on resume) into ``stacked``."""
        per_seed = [flat_params(o) for o in opts]
        for j, target in enumerate(flat_params(stacked)):
            states = [o.state.get(params[j]) for o, params in zip(opts, per_seed, strict=True)]
            if not all(states):
                continue
            merged: dict[str, Any] = {}
            for key, value in states[0].items():
                if _per_entry(key, value):
                    merged[key] = torch.stack([s[key] for s in states]).to(target.device)
                else:
                    merged[key] = value.clone() if isinstance(value, Tensor) else value
            stacked.state[target] = merged

    def export_optimizer_states(self) -> None:
        """Give each seed's optimizers views of the stacked state (before a checkpoint)."""
        for stacked, per_seed in self._exported:
            seed_params = [flat_params(o) for o in per_seed]
            for j, target in enumerate(flat_params(stacked)):
                state = stacked.state.get(target)
                if not state:
                    continue
                for k, opt in enumerate(per_seed):
                    opt.state[seed_params[k][j]] = {
                        key: value[k] if _per_entry(key, value) else value
                        for key, value in state.items()
                    }


def _per_entry(key: str, value: Any) -> bool:
    """Whether an optimizer state value is per parameter entry (stacked) or shared (the step).

    Every elementwise optimizer's tensors are shaped like the parameter except ``step``, the
    count of steps taken (the same for every seed of a batch).
    """
    return isinstance(value, Tensor) and key != "step"


def flat_params(opt: torch.optim.Optimizer) -> list[Tensor]:
    """Every parameter of ``opt``, over all its groups in order."""
    return [p for g in opt.param_groups for p in g["params"]]
