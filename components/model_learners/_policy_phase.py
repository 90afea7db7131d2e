"""The shared base of model learners that keep training the model during the policy phase.

:class:`PolicyPhaseLearner` pretrains by MLE (a fixed number of epochs, ROMI App. D.2, or the
``mle`` learner's holdout early stopping, RAMBO) and then runs its subclass's scheduled
updates in the policy phase; ``bilevel_reweighted`` (ROMI) and ``alternating_mle`` (RAMBO)
extend it. Its config base is
:class:`components.model_learners.policy_phase.PolicyPhaseLearnerConfig`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from compose.kinds import Batch, BuildContext, Dynamics, MetricsSink, ModelLearner, UpdateInputs
from compose.nn import make_adam

if TYPE_CHECKING:
    from components.model_learners.policy_phase import PolicyPhaseLearnerConfig

__all__ = ["PolicyPhaseLearner", "sum_losses"]


def sum_losses(terms: dict[str, Tensor], like: Tensor) -> Tensor:
    """The sum of the ``loss_*`` entries of ``terms`` (a zero shaped like ``like`` if none)."""
    losses = [v for k, v in terms.items() if k.startswith("loss_")]
    return torch.stack(losses).sum() if losses else like.new_zeros(())


class PolicyPhaseLearner(ModelLearner):
    """MLE pretraining for a fixed number of epochs, then scheduled policy-phase updates.

    Pretraining: every member trains on its own permutation of the data (minus ``holdout``
    rows) with Adam on -log T_e(s', r | s, a) summed over members plus the dynamics'
    regularization; elites are the members with the lowest holdout NLL. Policy phase: when
    ``inputs.step % every == 0`` run ``updates`` steps of :meth:`model_step` on batches the
    learner samples from the offline data itself. Subclasses define :meth:`model_step`.
    """

    def __init__(self, config: PolicyPhaseLearnerConfig, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.aux_losses = nn.ModuleList([ctx.build(c) for c in config.aux_losses])
        self.data: Any = ctx.data
        self.device = torch.device(ctx.device)
        self.model_optimizer: torch.optim.Optimizer | None = None
        # Own RNG for batch sampling: the batches do not depend on what aux losses draw.
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(torch.randint(2**62, (1,)).item()))
        if ctx.dynamics is not None:
            self.attach(ctx.dynamics)

    def attach(self, dynamics: Dynamics) -> None:
        """Create the model optimizer for ``dynamics`` (once; checkpointed as ``model``)."""
        if self.model_optimizer is None:
            params = [p for p in dynamics.parameters() if p.requires_grad]
            self.model_optimizer = self.register_optimizer(
                "model", make_adam(params, lr=self.config.lr)
            )

    # ---------------------------------------------------------------- data
    def _tensors(self, data: Any) -> dict[str, Tensor]:
        return {
            k: getattr(data, k).to(self.device)
            for k in ("obs", "actions", "rewards", "next_obs", "terminals")
        }

    def sample_batch(self, size: int | None = None) -> Batch:
        """A uniform batch of offline transitions (the learner's own sampling)."""
        if self.data is None:
            raise RuntimeError("this model learner needs the offline data (ctx.data or pretrain)")
        if not hasattr(self, "_data_tensors"):
            self._data_tensors = self._tensors(self.data)
        t = self._data_tensors
        n, size = t["rewards"].shape[0], size or self.config.batch_size
        idx = torch.randint(n, (size,), device=self.device, generator=self.generator)
        return Batch(**{k: v[idx] for k, v in t.items()})

    # ---------------------------------------------------------------- pretraining
    def pretrain(self, dynamics: Dynamics, data: Any, log: MetricsSink) -> dict[str, Any]:
        """MLE pretraining: fixed epochs (ROMI App. D.2) or holdout early stopping (RAMBO).

        Returns the elites' holdout NLL/MSE (fixed epochs) or the ``mle`` learner's metrics.
        """
        self.data = data
        self._data_tensors = self._tensors(data)
        self.attach(dynamics)
        if self.config.pretrain_stop == "holdout":
            return self._pretrain_early_stopping(dynamics, data, log)
        t = self._data_tensors
        targets = torch.cat([t["next_obs"] - t["obs"], t["rewards"].unsqueeze(-1)], -1)
        dynamics.fit_normalizer(t["obs"], t["actions"], targets)
        self.on_pretrain_data(t)
        n = t["rewards"].shape[0]
        hold = min(self.config.holdout, n // 5)
        perm = torch.randperm(n, device=self.device)
        train_idx, hold_idx = perm[hold:], perm[:hold]
        e, bs = dynamics.members, self.config.batch_size
        for epoch in range(self.config.pretrain_epochs):
            order = torch.argsort(torch.rand(e, train_idx.numel(), device=self.device), dim=1)
            order = train_idx[order]  # [E, N_train]: each member its own permutation
            total = torch.zeros((), device=self.device)
            steps = 0
            for start in range(0, order.shape[1], bs):  # minibatches of one epoch
                idx = order[:, start : start + bs]
                nll = (
                    -dynamics.log_prob(
                        t["obs"][idx], t["actions"][idx], t["next_obs"][idx], t["rewards"][idx]
                    )
                    .mean(-1)
                    .sum()
                )
                loss = nll + dynamics.regularization()
                self.model_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.model_optimizer.step()
                total = total + nll.detach()
                steps += 1
            log({"pretrain/nll": float(total / max(steps, 1))}, epoch)
        metrics: dict[str, float] = {}
        if hold > 0:
            with torch.no_grad():
                nll = -dynamics.log_prob(
                    t["obs"][hold_idx],
                    t["actions"][hold_idx],
                    t["next_obs"][hold_idx],
                    t["rewards"][hold_idx],
                ).mean(-1)  # [E]
                dynamics.set_elites(torch.argsort(nll)[: dynamics.elites.numel()])
                pred = dynamics.predict(t["obs"][hold_idx], t["actions"][hold_idx])
                mse = (
                    (
                        pred.mean[dynamics.elites, :, : dynamics.obs_dim]
                        - targets[hold_idx, : dynamics.obs_dim]
                    )
                    .pow(2)
                    .mean()
                )
            metrics = {
                "holdout_nll": float(nll[dynamics.elites].mean()),
                "holdout_mse": float(mse),
            }
        return metrics

    def _pretrain_early_stopping(
        self, dynamics: Dynamics, data: Any, log: MetricsSink
    ) -> dict[str, Any]:
        """The ``mle`` learner's fit (holdout early stopping, elites), then this learner's hook."""
        from components.model_learners._mle import MLELearner
        from components.model_learners.mle import MLEConfig

        cfg = self.config
        mle = MLELearner(
            MLEConfig(
                lr=cfg.lr,
                batch_size=cfg.batch_size,
                holdout=max(int(cfg.holdout), 1),
                patience=cfg.patience,
                improvement=cfg.improvement,
                max_epochs=cfg.max_epochs,
                max_updates=cfg.max_updates,
            ),
            ctx=None,  # no aux losses to build
        )
        metrics = mle.pretrain(dynamics, data, log)
        self.on_pretrain_data(self._data_tensors)
        return metrics

    def on_pretrain_data(self, tensors: dict[str, Tensor]) -> None:
        """Hook for subclasses: statistics from the offline data (e.g. input normalizers)."""

    # ---------------------------------------------------------------- policy phase
    @property
    def updates_during_policy(self) -> bool:
        """Declared by the config (:meth:`PolicyPhaseLearnerConfig.trains_in_policy_phase`)."""
        return self.config.trains_in_policy_phase()

    def update(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """``updates`` model steps when ``inputs.step % every == 0``.

        Returns every metric averaged over those steps, plus ``<name>_max`` for each gradient
        norm (an exploding step stays visible even if the mean hides it). Device tensors only.
        """
        if inputs.step % self.config.every != 0 or inputs.dynamics is None:
            return {}
        self.attach(inputs.dynamics)
        sums: dict[str, Tensor] = {}
        peaks: dict[str, Tensor] = {}
        for _ in range(self.config.updates):  # sequential optimization steps
            batch = self.sample_batch()
            step_inputs = UpdateInputs(
                step=inputs.step,
                real=batch,
                model=inputs.model,
                batch=None,
                agent=inputs.agent,
                dynamics=inputs.dynamics,
            )
            for aux in self.aux_losses:
                aux.update(step_inputs)
            for k, v in self.model_step(step_inputs).items():
                v = v.detach().float()
                sums[k] = sums[k] + v if k in sums else v
                if "grad_norm" in k:
                    peaks[f"{k}_max"] = (
                        torch.maximum(peaks[f"{k}_max"], v) if f"{k}_max" in peaks else v
                    )
        n = max(self.config.updates, 1)
        return {**{k: v / n for k, v in sums.items()}, **peaks}

    def aux_terms(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """Every aux loss's terms, keys prefixed with the aux loss's position."""
        out: dict[str, Tensor] = {}
        for i, aux in enumerate(self.aux_losses):
            for k, v in aux.loss(inputs).items():
                out[f"{k}_{i}" if k.startswith("loss_") else f"aux{i}/{k}"] = v
        return out

    def model_step(self, inputs: UpdateInputs) -> dict[str, Tensor]:
        """One policy-phase model update on ``inputs.real``; returns diagnostics."""
        raise NotImplementedError
