"""Transition buffers: pre-allocated tensors on the training device, FIFO, sampled on device.

Reference: MBPO (Janner et al. 2019), Algorithm 2: a model buffer D_model of fixed capacity
into which branched rollouts are written, oldest first out.
Why: every tensor is allocated once on the device and indexed with ``torch.randint`` from
torch's own RNG, so sampling never touches NumPy or the host and is checkpointable through
torch's RNG state.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from compose.kinds import Batch

__all__ = ["TRANSITION_FIELDS", "SeedBuffers", "TransitionBuffer"]

#: The fields of a transition row, in :class:`Batch` order.
TRANSITION_FIELDS = ("obs", "actions", "rewards", "next_obs", "terminals")


class TransitionBuffer:
    """A ring buffer of (s, a, r, s', done) rows with a fixed ``capacity``.

    ``add`` writes a batch of rows in one indexed copy, overwriting the oldest rows once full;
    ``sample`` draws rows uniformly with replacement using torch's RNG on the buffer's device.
    """

    def __init__(
        self,
        capacity: int,
        obs_dim: int,
        act_dim: int,
        device: torch.device | str,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self.device = torch.device(device)
        self.obs = torch.zeros(capacity, obs_dim, dtype=dtype, device=self.device)
        self.actions = torch.zeros(capacity, act_dim, dtype=dtype, device=self.device)
        self.rewards = torch.zeros(capacity, dtype=dtype, device=self.device)
        self.next_obs = torch.zeros(capacity, obs_dim, dtype=dtype, device=self.device)
        self.terminals = torch.zeros(capacity, dtype=torch.bool, device=self.device)
        self.ptr = 0
        self.size = 0

    @classmethod
    def from_tensors(
        cls,
        obs: Tensor,
        actions: Tensor,
        rewards: Tensor,
        next_obs: Tensor,
        terminals: Tensor,
        device: torch.device | str,
    ) -> TransitionBuffer:
        """A full buffer holding exactly these rows (the real dataset)."""
        buf = cls(int(obs.shape[0]), int(obs.shape[-1]), int(actions.shape[-1]), device)
        buf.add(obs, actions, rewards, next_obs, terminals)
        return buf

    def __len__(self) -> int:
        return self.size

    def add(
        self, obs: Tensor, actions: Tensor, rewards: Tensor, next_obs: Tensor, terminals: Tensor
    ) -> None:
        """Append rows (FIFO); if more rows than capacity arrive, the last ``capacity`` stay."""
        n = int(obs.shape[0])
        if n == 0:
            return
        if n > self.capacity:
            obs, actions, rewards, next_obs, terminals = (
                t[n - self.capacity :] for t in (obs, actions, rewards, next_obs, terminals)
            )
            n = self.capacity
        idx = (torch.arange(n, device=self.device) + self.ptr) % self.capacity
        for name, value in zip(
            TRANSITION_FIELDS, (obs, actions, rewards, next_obs, terminals), strict=True
        ):
            dest: Tensor = getattr(self, name)
            dest.index_copy_(0, idx, value.reshape(n, *dest.shape[1:]).to(dest.dtype))
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int) -> Batch:
        """``n`` rows drawn uniformly with replacement (torch's RNG on the buffer's device)."""
        return self.gather(self.indices(n))

    def indices(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` row indices drawn uniformly with replacement (``generator``: else torch's)."""
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty buffer")
        return torch.randint(0, self.size, (n,), device=self.device, generator=generator)

    def gather(self, idx: Tensor) -> Batch:
        """The rows at ``idx`` as a :class:`Batch` (``terminals`` as float, like rewards)."""
        return Batch(
            obs=self.obs[idx],
            actions=self.actions[idx],
            rewards=self.rewards[idx],
            next_obs=self.next_obs[idx],
            terminals=self.terminals[idx].to(self.rewards.dtype),
        )

    def state_dict(self) -> dict[str, Any]:
        """The filled rows, pointer and size (tensors and ints only: loads with weights_only)."""
        state: dict[str, Any] = {
            name: getattr(self, name)[: self.size].cpu() for name in TRANSITION_FIELDS
        }
        state.update(ptr=self.ptr, size=self.size, capacity=self.capacity)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (same capacity required)."""
        if int(state["capacity"]) != self.capacity:
            raise ValueError(
                f"buffer capacity differs: checkpoint {state['capacity']}, now {self.capacity}"
            )
        size = int(state["size"])
        for name in TRANSITION_FIELDS:
            getattr(self, name)[:size].copy_(state[name])
        self.size = size
        self.ptr = int(state["ptr"])


class SeedBuffers:
    """K seeds' buffers of one shape, sampled as one batch [K, n, ...].

    The buffers' storage is moved into stacked [K, capacity, ...] tensors and each buffer
    keeps a view of its row, so it still fills and checkpoints as before; ``sample`` draws
    each seed's indices from that seed's generator (the numbers a separate run draws) and
    gathers all seeds in one indexing op per field. Passing the same buffer K times (the
    shared real dataset) gathers from it without a stacked copy.
    """

    def __init__(self, buffers: list[TransitionBuffer]) -> None:
        self.buffers = buffers
        self.shared = all(b is buffers[0] for b in buffers)
        first = buffers[0]
        self.rows = torch.arange(len(buffers), device=first.device).unsqueeze(1)
        self.fields: dict[str, Tensor] = {}
        for name in TRANSITION_FIELDS:
            if self.shared:
                self.fields[name] = getattr(first, name)
                continue
            stacked = torch.stack([getattr(b, name) for b in buffers])
            for k, buf in enumerate(buffers):
                setattr(buf, name, stacked[k])
            self.fields[name] = stacked

    def sample(self, n: int, generators: list[torch.Generator]) -> Batch:
        """``n`` rows per seed; fields [K, n, ...] (``terminals`` as float, like rewards)."""
        idx = torch.stack([b.indices(n, g) for b, g in zip(self.buffers, generators, strict=True)])
        f = self.fields
        if self.shared:
            return Batch(
                obs=f["obs"][idx],
                actions=f["actions"][idx],
                rewards=f["rewards"][idx],
                next_obs=f["next_obs"][idx],
                terminals=f["terminals"][idx].to(f["rewards"].dtype),
            )
        rows = self.rows
        return Batch(
            obs=f["obs"][rows, idx],
            actions=f["actions"][rows, idx],
            rewards=f["rewards"][rows, idx],
            next_obs=f["next_obs"][rows, idx],
            terminals=f["terminals"][rows, idx].to(f["rewards"].dtype),
        )
