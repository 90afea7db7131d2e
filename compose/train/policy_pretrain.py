"""Behavior-cloning pretraining of the policy (the recipe's ``policy_pretrain`` section).

Reference: ROMI App. D, Algorithm 1 lines 8-12 (ROMI, and RAMBO whose Algorithm 1 ROMI
follows): after the model is pretrained and before policy learning, minimize
L_BC = -E_(s,a)~D [log pi(a|s)] by gradient descent. Nothing here names an algorithm: a
recipe turns it on with ``policy_pretrain.steps > 0``.
Why a fallback for policies without a density (AMPL's implicit a = pi(s, z)): their
log-likelihood is intractable, so ``mse`` regresses a sampled (reparameterized) action onto
the dataset action; ``loss: auto`` picks ``nll`` whenever the policy implements
:meth:`compose.kinds.Policy.log_prob`.
Why its own Adam: the pretraining optimizer state must not leak into the actor's optimizer
(the policy phase starts with fresh moments, as the algorithms' code does).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from compose.kinds import Policy
from compose.nn.optim import make_adam

__all__ = ["bc_loss", "pretrain_policy", "resolved_loss"]


def resolved_loss(policy: Policy, loss: str) -> str:
    """``nll`` or ``mse``: what ``loss`` (auto / nll / mse) means for this policy."""
    can_nll = policy.implements_log_prob()
    if loss == "auto":
        return "nll" if can_nll else "mse"
    if loss == "nll" and not can_nll:
        raise ValueError(
            f"policy_pretrain.loss 'nll': policy {type(policy).__name__} does not implement "
            "log_prob(obs, actions); use loss: auto or mse"
        )
    return loss


def bc_loss(policy: Policy, obs: Tensor, actions: Tensor, kind: str) -> dict[str, Tensor]:
    """{loss_bc, nll or mse} of one batch of dataset (s, a) pairs (``kind``: nll | mse)."""
    if kind == "nll":
        nll = -policy.log_prob(obs, actions).mean()
        return {"loss_bc": nll, "nll": nll.detach()}
    mse = (policy(obs).actions - actions).pow(2).sum(-1).mean()
    return {"loss_bc": mse, "mse": mse.detach()}


def pretrain_policy(
    policy: Policy,
    obs: Tensor,
    actions: Tensor,
    config: Any,
    *,
    log: Callable[[dict[str, Tensor], int], None],
    progress: Callable[[int], None] | None = None,
    log_every: int = 1000,
) -> dict[str, float]:
    """Run ``config.steps`` BC steps on (obs, actions); returns final metrics (plain floats).

    ``log(metrics, step)`` receives device tensors every ``log_every`` steps and at the end
    (keys without a prefix); ``progress(step)`` is called every few steps.
    """
    steps = int(config.steps)
    if steps <= 0:
        return {}
    kind = resolved_loss(policy, config.loss)
    optim = make_adam(policy.parameters(), lr=config.lr)
    n = obs.shape[0]
    batch = min(int(config.batch_size), n)
    t0 = time.perf_counter()
    out: dict[str, Tensor] = {}
    first: Tensor | None = None
    policy.train()
    for step in range(1, steps + 1):
        idx = torch.randint(0, n, (batch,), device=obs.device)
        out = bc_loss(policy, obs[idx], actions[idx], kind)
        optim.zero_grad(set_to_none=True)
        out["loss_bc"].backward()
        optim.step()
        if first is None:
            first = out["loss_bc"].detach()
        if step % log_every == 0 or step == steps:
            log({k: v.detach() for k, v in out.items()}, step)
        if progress is not None and (step % 50 == 0 or step == steps):
            progress(step)
    final = {k: float(v.detach()) for k, v in out.items()}
    final["initial_loss_bc"] = float(first) if first is not None else float("nan")
    final.update(steps=float(steps), seconds=time.perf_counter() - t0)
    final["loss_is_nll"] = 1.0 if kind == "nll" else 0.0
    return final
