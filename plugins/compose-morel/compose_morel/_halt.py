"""``halt``: r~ = -kappa where u(s, a) > threshold, else r (MOReL's P-MDP)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from compose.kinds import (
    Agent,
    BuildContext,
    Dynamics,
    ModelTransitions,
    RewardShaper,
    Shaped,
    Uncertainty,
)

__all__ = ["Halt"]

_CHUNK = 8192


class Halt(RewardShaper):
    """HALT shaping with a fixed or data-calibrated threshold (a checkpointed buffer)."""

    def __init__(self, config: Any, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.kappa = float(config.kappa)
        self.uncertainty: Uncertainty = ctx.build(config.uncertainty)
        self._data = ctx.data
        value = float(config.threshold) if config.threshold_mode == "absolute" else float("nan")
        self.register_buffer("cutoff", torch.tensor(value, device=ctx.device))

    @torch.no_grad()
    def calibrate(self, dynamics: Dynamics, agent: Agent | None = None) -> Tensor:
        """Measure u on up to ``calibration_rows`` offline rows and set the cut-off."""
        cfg = self.config
        data = self._data
        if data is None:
            raise ValueError(
                f"halt: threshold_mode '{cfg.threshold_mode}' needs the offline data "
                "(BuildContext.data); use threshold_mode: absolute without it"
            )
        n = int(data.obs.shape[0])
        generator = torch.Generator().manual_seed(cfg.calibration_seed)
        rows = torch.randperm(n, generator=generator)[: cfg.calibration_rows]
        rows = rows.to(data.obs.device)
        device = self.cutoff.device
        obs = data.obs[rows].to(device=device, dtype=torch.float32)
        act = data.actions[rows].to(device=device, dtype=torch.float32)
        u = torch.cat(
            [
                self.uncertainty(o, a, dynamics=dynamics, agent=agent)
                for o, a in zip(obs.split(_CHUNK), act.split(_CHUNK), strict=True)
            ]
        )
        if cfg.threshold_mode == "data_max":
            cutoff = cfg.threshold * u.max()
        else:
            cutoff = u.mean() + cfg.threshold * u.std()
        self.cutoff.copy_(cutoff)
        return self.cutoff

    def shape(
        self, transitions: ModelTransitions, *, dynamics: Dynamics, agent: Agent | None
    ) -> Shaped:
        """Rewards [B], diagnostics, and ``terminate`` [B]: the HALTed rows, which the rollout ends."""
        if torch.isnan(self.cutoff):
            self.calibrate(dynamics, agent)
        u = self.uncertainty(
            transitions.obs,
            transitions.actions,
            dynamics=dynamics,
            agent=agent,
            prediction=transitions.prediction,
        )
        halt = u > self.cutoff
        r = transitions.rewards
        shaped = torch.where(halt, torch.full_like(r, -self.kappa), r)
        return Shaped(
            shaped,
            {
                "uncertainty_mean": u.mean(),
                "threshold": self.cutoff.clone(),
                "raw_reward_mean": r.mean(),
            },
            terminate=halt,
        )
