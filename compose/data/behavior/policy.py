"""The behavior policy: a tanh-Gaussian MLP actor, and its small, weights-only checkpoints.

Reference: SAC actor (Haarnoja et al. 2018); log-std squashing as in CleanRL
``sac_continuous_action.py`` (log_std in [-5, 2] through a tanh).
Why: checkpoints are ``{"state_dict", "meta", "snapshots"}`` of tensors and plain Python
values only, so they load with ``torch.load(weights_only=True)`` and never execute code.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from compose.nn import MLP, scale_action, tanh_normal_sample

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class BehaviorPolicy(nn.Module):
    """pi(a|s) = tanh(N(mu(s), sigma(s))) scaled to the env's action box."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        hidden: Sequence[int] = (256, 256),
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden = obs_dim, act_dim, list(hidden)
        self.net = MLP(obs_dim, 2 * act_dim, hidden, activation_name="relu")
        self.register_buffer("action_low", torch.as_tensor(action_low, dtype=torch.float32))
        self.register_buffer("action_high", torch.as_tensor(action_high, dtype=torch.float32))

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """obs [B, do] -> (mean [B, da], log_std [B, da]) of the pre-tanh Gaussian."""
        mean, raw = self.net(obs).chunk(2, dim=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(raw) + 1.0)
        return mean, log_std

    def sample(
        self, obs: Tensor, deterministic: bool = False, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Squashed action in [-1, 1]^da and its log-probability (reparameterized)."""
        mean, log_std = self(obs)
        s = tanh_normal_sample(mean, log_std, deterministic, generator)
        return s.action, s.log_prob

    @torch.no_grad()
    def act(
        self, obs: Tensor, deterministic: bool = False, generator: torch.Generator | None = None
    ) -> Tensor:
        """Env-scaled action for an observation batch [B, do] -> [B, da]."""
        action, _ = self.sample(obs, deterministic, generator)
        return scale_action(action, self.action_low, self.action_high)

    def numpy_sampler(
        self, seed: int, deterministic: bool = False
    ) -> Callable[[np.ndarray], np.ndarray]:
        """A torch-free copy of :meth:`act` for data collection: obs [B, do] -> actions [B, da].

        Why: at the factory's batch sizes (a few envs) a torch call is mostly dispatch
        overhead (more with several intra-op threads on a busy machine); the same float32
        maths in numpy is far cheaper there. Noise
        eps ~ N(0, I) comes from ``numpy.random.default_rng(seed)``, drawn as
        ``standard_normal((B, da), dtype=float32)`` per call, so a seed fixes the actions.
        """
        layers = [
            (
                layer.weight[0].detach().cpu().numpy().astype(np.float32),
                layer.bias[0, 0].detach().cpu().numpy().astype(np.float32),
            )
            for layer in self.net.body.linear_layers()
        ]
        low = self.action_low.cpu().numpy().astype(np.float32)
        half_range = 0.5 * (self.action_high.cpu().numpy().astype(np.float32) - low)
        da, last = self.act_dim, len(layers) - 1
        rng = np.random.default_rng(seed)

        def act(obs: np.ndarray) -> np.ndarray:
            h = np.asarray(obs, dtype=np.float32)
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                if i < last:
                    np.maximum(h, 0.0, out=h)  # BehaviorPolicy's MLP uses relu
            mean, raw = h[:, :da], h[:, da:]
            if deterministic:
                u = mean
            else:
                log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (np.tanh(raw) + 1.0)
                eps = rng.standard_normal(mean.shape, dtype=np.float32)
                u = mean + np.exp(log_std) * eps
            return low + (np.tanh(u) + 1.0) * half_range

        return act

    def config(self) -> dict[str, Any]:
        """Constructor arguments, stored in checkpoints."""
        return {
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "action_low": self.action_low.tolist(),
            "action_high": self.action_high.tolist(),
            "hidden": self.hidden,
        }


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """torch.save to a temp file in the same folder, then rename (never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_policy(
    path: str | Path,
    policy: BehaviorPolicy,
    meta: dict[str, Any],
    snapshots: list[dict[str, Any]] | None = None,
) -> None:
    """Write a checkpoint: fp32 weights, metadata, optional fp16 training snapshots.

    ``snapshots`` are ``{"state_dict", "env_steps", "eval_return"}`` dicts of earlier policies
    (used to regenerate medium-replay data); they are stored in float16 to keep files small.
    """
    snaps = [
        {
            **{k: v for k, v in s.items() if k != "state_dict"},
            "state_dict": {k: v.to(torch.float16) for k, v in s["state_dict"].items()},
        }
        for s in snapshots or []
    ]
    atomic_torch_save(
        {
            "config": policy.config(),
            "state_dict": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
            "meta": meta,
            "snapshots": snaps,
        },
        path,
    )


def load_policy(path: str | Path) -> tuple[BehaviorPolicy, dict[str, Any], list[dict[str, Any]]]:
    """Load (policy, meta, snapshots) from a checkpoint with ``weights_only=True``.

    Snapshot state dicts are returned converted back to float32.
    """
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    policy = BehaviorPolicy(**ckpt["config"])
    policy.load_state_dict(ckpt["state_dict"])
    policy.eval()
    snaps = [
        {**s, "state_dict": {k: v.float() for k, v in s["state_dict"].items()}}
        for s in ckpt.get("snapshots", [])
    ]
    return policy, ckpt["meta"], snaps
