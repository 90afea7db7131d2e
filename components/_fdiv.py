"""DAMO's f-divergence maths (Eq. 2), shared by the ``fdiv_dual`` critic target and actor objective.

:func:`phi` is Phi = r~ + gamma (1 - d) V(s') - Q(s, a); :class:`InitialStates` samples s0 ~ mu0
for the (1 - gamma) E_mu0[Q(s0, pi)] term; :func:`conjugate` is f*, :func:`conjugate_argmax`
the implied density ratio.

The conjugates (f*(y) = sup_{x in dom f} x y - f(x)) of DAMO App. C.1's f(x) = (x-1)^3/3:

* over x >= 0 (``ratio_domain``): d/dx (x y - f) = y - (x-1)^2 vanishes at x = 1 +- sqrt(y);
  the maximum is at x = 1 + sqrt(y) with value y + (2/3) y^(3/2), or at the boundary x = 0
  with value -f(0) = 1/3; the first wins iff y >= 1/4 (equality at y = 1/4, since
  1/4 + (2/3)(1/8) = 1/3). For y < 0 the objective decreases in x, so x = 0. Hence
  f*(y) = 1/3 for y < 1/4 and y + (2/3) y^(3/2) otherwise: continuous, convex, and its
  derivative (the maximizing x) jumps from 0 to 1.5 at y = 1/4, because f is not convex
  on [0, 1) (f* is the conjugate of f's convex envelope there).
* over x >= 1 (``convex_domain``): the maximizer is max(1, 1 + sqrt(y)):
  f*(y) = y + (2/3) max(y, 0)^(3/2), C^1 with derivative 1 + sqrt(max(y, 0)) >= 1.
* the paper's printed (2/3)(y-1)^(3/2) (``paper``, the configs' default: it produced
  DAMO's Table 2), defined for y >= 1 only; we extend it by 0 below y = 1, which makes it
  the exact conjugate of g(x) = x + x^3/3 on x >= 0 (maximizer x = sqrt(y - 1)).
  g(1) = 4/3 != 0, so g is not an f-divergence generator.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from compose.kinds import Agent, Batch, BuildContext

__all__ = [
    "CONJUGATES",
    "GENERATORS",
    "InitialStates",
    "conjugate",
    "conjugate_argmax",
    "phi",
]


def _ratio_domain(y: Tensor) -> Tensor:
    yc = y.clamp_min(0.25)
    return torch.where(y < 0.25, torch.full_like(y, 1.0 / 3.0), yc + (2.0 / 3.0) * yc.pow(1.5))


def _convex_domain(y: Tensor) -> Tensor:
    return y + (2.0 / 3.0) * y.clamp_min(0.0).pow(1.5)


def _paper(y: Tensor) -> Tensor:
    return (2.0 / 3.0) * (y - 1.0).clamp_min(0.0).pow(1.5)


#: f* by name (see the module docstring for the derivations).
CONJUGATES: dict[str, Callable[[Tensor], Tensor]] = {
    "ratio_domain": _ratio_domain,
    "convex_domain": _convex_domain,
    "paper": _paper,
}

#: The generator each conjugate belongs to, as (f, lower end of its domain) (for tests/docs).
GENERATORS: dict[str, tuple[Callable[[Tensor], Tensor], float]] = {
    "ratio_domain": (lambda x: (x - 1.0).pow(3) / 3.0, 0.0),
    "convex_domain": (lambda x: (x - 1.0).pow(3) / 3.0, 1.0),
    "paper": (lambda x: x + x.pow(3) / 3.0, 0.0),
}


def conjugate(name: str, y: Tensor) -> Tensor:
    """f*(y) elementwise for the named conjugate."""
    return CONJUGATES[name](y)


def conjugate_argmax(name: str, y: Tensor) -> Tensor:
    """The maximizing x of sup_x (x y - f(x)) (= f*'(y) where differentiable): the implied ratio."""
    if name == "ratio_domain":
        return torch.where(y < 0.25, torch.zeros_like(y), 1.0 + y.clamp_min(0.0).sqrt())
    if name == "convex_domain":
        return 1.0 + y.clamp_min(0.0).sqrt()
    return (y - 1.0).clamp_min(0.0).sqrt()


class InitialStates(torch.nn.Module):
    """Samples s0 ~ mu0 for the (1 - gamma) E_mu0[Q(s0, pi)] term of DAMO Eq. 2.

    ``dataset_states`` (default): uniformly random states of the offline dataset, as DAMO
    does (DAMO Sec. 7: "the offline dataset does not explicitly label which states are
    initial states. Therefore, we randomly sample a state from the offline dataset to serve
    as the initial state"). ``episode_starts``: the dataset's episode-start states (the
    literal reading of mu0 as an initial-state distribution). ``batch``: the states of the
    batch itself. Without data (a component built by hand) every source falls back to the
    batch states.
    Why the dataset states are a plain attribute, not a buffer: they are the dataset's own
    tensor (no copy), never checkpointed, and not stacked per seed by seed batching.
    """

    def __init__(self, ctx: BuildContext, source: str) -> None:
        super().__init__()
        data = ctx.data
        self.states: Tensor | None = None
        starts = None
        has_obs = data is not None and hasattr(data, "obs") and len(data.obs) > 0
        if source == "dataset_states" and has_obs:
            self.states = torch.as_tensor(data.obs, dtype=torch.float32).to(ctx.device)
        if source == "episode_starts" and data is not None and hasattr(data, "initial_obs"):
            starts = data.initial_obs()
        if starts is not None and len(starts) == 0:
            starts = None
        # Not persistent: rebuilt from the data, never stored in checkpoints.
        self.register_buffer(
            "starts",
            None if starts is None else torch.as_tensor(starts, dtype=torch.float32).to(ctx.device),
            persistent=False,
        )

    def sample(self, n: int, fallback: Tensor) -> Tensor:
        """n initial observations ([n, obs_dim]); ``fallback`` rows when no states are known."""
        pool = self.states if self.states is not None else self.starts
        if pool is None:
            return fallback
        idx = torch.randint(0, pool.shape[0], (n,), device=pool.device)
        return pool[idx]


def phi(
    agent: Agent,
    batch: Batch,
    q_sa: Tensor,
    q_next: Tensor,
    next_log_prob: Tensor | None,
) -> Tensor:
    """Phi = r~ + gamma (1 - d) (Q(s', a') - alpha_ent log pi(a'|s')) - Q(s, a): [K, B] or [B]."""
    n = len(batch)
    rewards = batch.rewards.reshape(n).to(q_sa.dtype)
    not_done = 1.0 - batch.terminals.reshape(n).to(q_sa.dtype)
    v_next = q_next
    if next_log_prob is not None:
        v_next = v_next - agent.temperature().to(q_sa) * next_log_prob.reshape(n).to(q_sa.dtype)
    return rewards + agent.gamma * not_done * v_next - q_sa
