"""``mle``: Gaussian NLL training of an ensemble dynamics with holdout early stopping.

Paper: MBPO (Janner et al. 2019) App. C; MOPO (Yu et al. 2020) App. C.2.
Loss per step (all members in one forward over [E, B] gathered rows):
    loss_nll = c * mean_{e,b,d} 0.5 (z^2 + log sigma_n^2 + log 2 pi),  z = (y - mu) / sigma
plus ``dynamics.regularization()`` and the aux losses' ``loss_*`` terms (the dynamics' plain
layer L2 terms applied as Adam's weight decay instead: the same update), where
c = 2E (``loss_scale: mbpo``; MBPO's sum over members of mean (z^2 + logvar)) or 1.
z is the same in raw and normalized units, so the NLL is computed from the Prediction alone.
Holdout MSE is measured in normalized target units: (y_n - mu_n) = z * sigma_n.
Why normalized MSE: every output dimension counts the same whatever its units.

Aux losses on the log-density scale (``aux_loss_scale: log_density``, default). With D the
learned output dims, loss_nll = (c / D) L_ori, L_ori = -mean_{e,b} log P_e(s', r | s, a) with
the log-density summed over the D dims (VIPO Eq. 7, MBPO/PETS's Gaussian NLL). A model aux
loss returns its ``loss_*`` terms relative to sum_e mean_b -log P_e (the form of the other
model learners, ``alternating_mle``, ``bilevel_reweighted``), so they are multiplied by
c / (E D): the loss is (c / D) (L_ori + lambda L_vic) + R, VIPO's L_aug (Eq. 8) with lambda
as the paper means it, and the regularization R keeps its MBPO weight relative to the NLL.
Why not drop c / D instead: plain MLE (MOPO, MOBILE, ...) would change its optimum through
R's relative weight. ``as_returned`` adds the terms unscaled: the scale before issue #14,
under which VIPO's lambda acted as lambda D / 2 (6x on hopper, 9x on halfcheetah).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from compose.kinds import (
    Batch,
    BuildContext,
    Dynamics,
    MetricsSink,
    ModelLearner,
    Prediction,
    UpdateInputs,
)
from compose.nn import EnsembleLinear, make_adam

__all__ = ["MLELearner", "MLEStep", "gaussian_nll", "normalized_sq_error"]

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_nll(pred: Prediction, targets: Tensor) -> Tensor:
    """Per-element Gaussian NLL in normalized target space: [E, B, D] (D learned dims)."""
    dims = pred.logvar.shape[-1]
    z = (targets[..., :dims] - pred.mean[..., :dims]) / pred.std[..., :dims]
    return 0.5 * (z.pow(2) + pred.logvar + _LOG_2PI)


def normalized_sq_error(pred: Prediction, targets: Tensor) -> Tensor:
    """(y_n - mu_n)^2 per element: [E, B, D], from raw units via z * sigma_n."""
    dims = pred.logvar.shape[-1]
    z = (targets[..., :dims] - pred.mean[..., :dims]) / pred.std[..., :dims]
    return (z * torch.exp(0.5 * pred.logvar)).pow(2)


class _Snapshots:
    """Each member's best parameters; shared tensors follow the last improving epoch.

    Per-member tensors are every parameter and buffer of the dynamics' EnsembleLinear
    layers (leading dim E, spectral-norm vectors included); a masked copy saves or restores
    all improved members at once.
    """

    def __init__(self, dynamics: nn.Module) -> None:
        member_ids: set[int] = set()
        self.member: list[Tensor] = []
        for module in dynamics.modules():
            if isinstance(module, EnsembleLinear):
                for t in [*module.parameters(), *module.buffers()]:
                    if id(t) not in member_ids:
                        member_ids.add(id(t))
                        self.member.append(t)
        self.shared = [
            t for t in [*dynamics.parameters(), *dynamics.buffers()] if id(t) not in member_ids
        ]
        self.member_best = [t.detach().clone() for t in self.member]
        self.shared_best = [t.detach().clone() for t in self.shared]

    @torch.no_grad()
    def save(self, improved: Tensor) -> None:
        """Store the current values of the ``improved`` members [E] (bool)."""
        for t, best in zip(self.member, self.member_best, strict=True):
            mask = improved.view(-1, *([1] * (t.dim() - 1)))
            best.copy_(torch.where(mask, t, best))
        for t, best in zip(self.shared, self.shared_best, strict=True):
            best.copy_(torch.where(improved.any(), t, best))

    @torch.no_grad()
    def restore(self) -> None:
        """Load every member's best values back into the dynamics."""
        for t, best in zip(
            [*self.member, *self.shared], [*self.member_best, *self.shared_best], strict=True
        ):
            t.copy_(best)


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was)


class MLEStep:
    """One MLE gradient step on [E, B] row indices, aux losses included; no host sync.

    ``columns`` = (obs, act, next_obs, rewards, terminals) of the training split. The step
    returns detached tensors: ``nll`` and every aux loss's terms (``loss_*`` and
    diagnostics, keyed ``aux_losses.<i>.<key>``, plus what its ``update`` returned), so the
    caller syncs them once at log time.
    Why a class: the model phase and ``compose bench`` run the same step.
    """

    def __init__(
        self,
        learner: MLELearner,
        dynamics: Dynamics,
        columns: tuple[Tensor, ...],
        optimizer: torch.optim.Optimizer,
    ) -> None:
        obs, act, nxt, rew, term = columns
        self.learner, self.dynamics, self.columns = learner, dynamics, columns
        # One row table [N, do + da + do + 1] of (obs, act, targets): a step gathers its
        # [E, B] rows once. Why: the rows are random, so each gather is cache misses; one
        # gather of 26 floats a row costs about what one of 11 does, a third of three.
        self.table = torch.cat([obs, act, nxt - obs, rew.unsqueeze(-1)], -1)
        self.widths = [
            obs.shape[-1],
            act.shape[-1],
            self.table.shape[-1] - obs.shape[-1] - act.shape[-1],
        ]
        self.targets = self.table[:, -self.widths[2] :]
        self.optimizer = optimizer
        #: The optimizer applies the dynamics' L2 terms (see MLELearner.trainer).
        self.optimizer_decay = any(g.get("weight_decay", 0.0) for g in optimizer.param_groups)
        self.aux_optimizers = [o for aux in learner.aux_losses for o in aux.attached_optimizers()]
        self.scale = 2.0 * dynamics.members if learner.config.loss_scale == "mbpo" else 1.0
        self.log_density_aux = learner.config.aux_loss_scale == "log_density"
        self.grad_ratio_every = learner.config.grad_ratio_every
        self.params = [p for p in dynamics.parameters() if p.requires_grad]
        self.updates = 0

    def aux_factor(self, dims: int) -> float:
        """The factor on the aux losses' ``loss_*`` terms, ``dims`` learned output dims.

        c / (E D) on the log-density scale (see the module docstring), else 1.
        """
        return self.scale / (self.dynamics.members * dims) if self.log_density_aux else 1.0

    def step(self, idx: Tensor) -> dict[str, Tensor]:
        """Update on rows ``idx`` [E, B] (member e trains on its own rows idx[e])."""
        dynamics = self.dynamics
        rows = self.table.index_select(0, idx.reshape(-1)).view(*idx.shape, -1)
        obs, act, targets = rows.split(self.widths, dim=-1)
        # cached(): parametrized weights (spectral norm) are computed once per step, not
        # again when the regularization reads them.
        with parametrize.cached():
            pred = dynamics.predict(obs, act)
            nll = gaussian_nll(pred, targets).mean()
            nll_term = self.scale * nll
            loss = nll_term + (
                dynamics.regularization(optimizer_decay=True)
                if self.optimizer_decay
                else dynamics.regularization()
            )
        out: dict[str, Tensor] = {"nll": nll.detach()}
        if self.learner.aux_losses:
            aux_losses, terms = self.learner._aux_terms(
                dynamics, self.updates, idx[0], *self.columns
            )
            factor = self.aux_factor(pred.logvar.shape[-1])
            scaled = [factor * aux_loss for aux_loss in aux_losses]
            loss = loss + torch.stack(scaled).sum()
            out.update(terms)
            if self.grad_ratio_every and self.updates % self.grad_ratio_every == 0:
                out.update(self.grad_ratios(nll_term, scaled))
        self.optimizer.zero_grad(set_to_none=True)
        for opt in self.aux_optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        for opt in self.aux_optimizers:
            opt.step()
        self.updates += 1
        return out

    def grad_ratios(self, nll_term: Tensor, aux_terms: list[Tensor]) -> dict[str, Tensor]:
        """``aux_losses.<i>.grad_ratio``: ||grad aux i's loss|| / ||grad NLL|| over the model.

        Both as they enter the loss (VIPO: ||grad lambda L_vic|| / ||grad L_ori||, the common
        c / D cancels). One extra backward per term (``autograd.grad`` on the kept graph), only
        on logged steps; the step's own gradient is untouched.
        """
        base = _grad_norm(nll_term, self.params)
        return {
            f"aux_losses.{i}.grad_ratio": _grad_norm(term, self.params) / base
            for i, term in enumerate(aux_terms)
        }


def _grad_norm(loss: Tensor, params: list[nn.Parameter]) -> Tensor:
    """||d loss / d params|| (0 when ``loss`` does not depend on them); keeps the graph."""
    if not loss.requires_grad:
        return loss.detach().new_zeros(())
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    norms = [g.norm() for g in grads if g is not None]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else loss.detach().new_zeros(())


class MLELearner(ModelLearner):
    """Fits a dynamics ensemble by maximum likelihood; early stopping; elite selection."""

    def __init__(self, config: Any, ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.aux_losses = nn.ModuleList([ctx.build(c) for c in config.aux_losses])

    # ---------------------------------------------------------------- data
    def _split(
        self, data: Any, device: torch.device
    ) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        obs = torch.as_tensor(data.obs, dtype=torch.float32, device=device)
        act = torch.as_tensor(data.actions, dtype=torch.float32, device=device)
        nxt = torch.as_tensor(data.next_obs, dtype=torch.float32, device=device)
        rew = torch.as_tensor(data.rewards, dtype=torch.float32, device=device).reshape(-1)
        term = torch.as_tensor(data.terminals, dtype=torch.float32, device=device).reshape(-1)
        n = obs.shape[0]
        holdout = self.config.holdout
        if isinstance(holdout, float):
            n_hold = int(round(holdout * n))
        else:  # a count, capped at 20% of the data (the reference's min(0.2 N, 1000) rule)
            n_hold = min(int(holdout), n // 5)
        if not 1 <= n_hold < n:
            raise ValueError(
                f"mle: holdout of {n_hold} transitions needs more than {n} transitions"
            )
        perm = torch.randperm(n, device=device)
        columns = (obs, act, nxt, rew, term)
        hold, train = perm[:n_hold], perm[n_hold:]
        return tuple(c[train] for c in columns), tuple(c[hold] for c in columns)

    # ---------------------------------------------------------------- evaluation
    def evaluate(
        self, dynamics: Dynamics, obs: Tensor, act: Tensor, targets: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Per-member holdout (normalized MSE [E], mean NLL [E]), in chunks, no grad."""
        sq, nll = [], []
        with _eval_mode(dynamics):
            for start in range(0, obs.shape[0], self.config.eval_batch_size):
                stop = start + self.config.eval_batch_size
                pred = dynamics.predict(obs[start:stop], act[start:stop])
                sq.append(normalized_sq_error(pred, targets[start:stop]).mean(-1))
                nll.append(gaussian_nll(pred, targets[start:stop]).mean(-1))
        return torch.cat(sq, 1).mean(1), torch.cat(nll, 1).mean(1)

    # ---------------------------------------------------------------- training
    def pretrain(self, dynamics: Dynamics, data: Any, log: MetricsSink) -> dict[str, Any]:
        """Fit ``dynamics`` on ``data`` (OfflineData fields); returns final holdout metrics.

        Keys: holdout_mse (mean over elites), holdout_mse_all, holdout_nll (elites),
        epochs, updates (floats) and elites (list of member indices).
        """
        cfg = self.config
        device = dynamics.elites.device
        (obs, act, nxt, rew, term), (h_obs, h_act, h_nxt, h_rew, _) = self._split(data, device)
        h_targets = torch.cat([h_nxt - h_obs, h_rew.unsqueeze(-1)], -1)
        dynamics.fit_normalizer(obs, act, torch.cat([nxt - obs, rew.unsqueeze(-1)], -1))
        trainer = self.trainer(dynamics, (obs, act, nxt, rew, term))
        members, n_train = dynamics.members, obs.shape[0]

        resample = self._resample(members, n_train, device)
        snapshots = _Snapshots(dynamics)
        best = torch.full((members,), float("inf"), device=device)
        since_improved, epoch = 0, 0
        bar = _progress(cfg.progress, cfg.max_epochs)
        dynamics.train()
        try:
            while cfg.max_epochs is None or epoch < cfg.max_epochs:
                order = self._order(resample, members, n_train, device)
                sums: dict[str, Tensor] = {}
                counts: dict[str, int] = {}  # steps that reported each key (grad_ratio: some)
                for start in range(0, n_train, cfg.batch_size):
                    terms = trainer.step(order[:, start : start + cfg.batch_size])  # [E, B] rows
                    for key, value in terms.items():  # summed as tensors, synced per epoch
                        value = value.float().mean()
                        sums[key] = sums[key] + value if key in sums else value
                        counts[key] = counts.get(key, 0) + 1
                    if cfg.max_updates is not None and trainer.updates >= cfg.max_updates:
                        break
                epoch += 1
                mse, h_nll = self.evaluate(dynamics, h_obs, h_act, h_targets)
                improved = (best - mse) / best > cfg.improvement
                improved |= torch.isinf(best)
                snapshots.save(improved)
                best = torch.where(improved, mse, best)
                since_improved = 0 if bool(improved.any()) else since_improved + 1
                means = _epoch_means(sums, counts)
                metrics = {
                    "epoch": float(epoch),
                    "train_nll": means.pop("nll", 0.0),
                    "holdout_mse": float(mse.mean()),
                    "holdout_nll": float(h_nll.mean()),
                    "epochs_since_improvement": float(since_improved),
                    **means,  # the aux losses' terms and diagnostics, epoch means
                }
                if not all(math.isfinite(v) for v in metrics.values()):
                    bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
                    raise FloatingPointError(
                        f"model_learner 'mle': non-finite values at epoch {epoch} (update "
                        f"{trainer.updates}): {bad}; the model phase stopped. Try a lower "
                        "model_learner.lr, or check the dataset for NaN/inf"
                    )
                log(metrics, epoch)
                if bar is not None:
                    bar.advance(metrics)
                if since_improved >= cfg.patience:
                    break
                if cfg.max_updates is not None and trainer.updates >= cfg.max_updates:
                    break
        finally:
            if bar is not None:
                bar.close()

        snapshots.restore()
        mse, h_nll = self.evaluate(dynamics, h_obs, h_act, h_targets)
        #: Per-member holdout MSE: best tracked during training, and after restoring it.
        self.member_holdout_mse = {"best": best, "restored": mse}
        n_elites = dynamics.elites.numel()
        elites = torch.argsort(mse)[:n_elites]
        dynamics.set_elites(elites)
        elites = dynamics.elites
        return {
            "holdout_mse": float(mse[elites].mean()),
            "holdout_mse_all": float(mse.mean()),
            "holdout_nll": float(h_nll[elites].mean()),
            "epochs": float(epoch),
            "updates": float(trainer.updates),
            "elites": elites.tolist(),
        }

    def _resample(self, members: int, n: int, device: torch.device) -> Tensor | None:
        """[E, n] each member's bootstrap resample, drawn once per fit (None for ``shuffle``).

        MBPO's and MOPO's ``bnn.py`` and OfflineRL-Kit's ``EnsembleDynamics.train`` draw the
        bootstrap indices once, before the first epoch, and only reorder them per epoch: each
        member keeps its own resample (about 63% of the distinct rows) for the whole fit,
        which is what makes the members disagree away from the data.
        """
        if self.config.sampling != "bootstrap":
            return None
        return torch.randint(n, (members, n), device=device)

    def _order(self, resample: Tensor | None, members: int, n: int, device: torch.device) -> Tensor:
        """[E, n] one epoch's row indices: each member's resample (or all rows) reordered."""
        perm = torch.rand(members, n, device=device).argsort(dim=1)
        return perm if resample is None else resample.gather(1, perm)

    def trainer(self, dynamics: Dynamics, columns: tuple[Tensor, ...]) -> MLEStep:
        """The gradient step on the training ``columns``; registers the model's Adam."""
        optimizer = make_adam(_param_groups(dynamics), self.config.lr)
        held = self._pending_optimizer_states.get("model")
        if held is not None and len(held["param_groups"]) != len(optimizer.param_groups):
            self._pending_optimizer_states["model"] = _regrouped(held, dynamics, optimizer)
        optimizer = self.register_optimizer("model", optimizer)
        return MLEStep(self, dynamics, columns, optimizer)

    def _aux_terms(
        self,
        dynamics: Dynamics,
        step: int,
        rows: Tensor,
        obs: Tensor,
        act: Tensor,
        nxt: Tensor,
        rew: Tensor,
        term: Tensor,
    ) -> tuple[list[Tensor], dict[str, Tensor]]:
        """(each aux loss's sum of ``loss_*`` terms, all their terms detached) on a real batch.

        The batch is member 0's rows. Terms are keyed ``aux_losses.<i>.<key>``; what each
        aux loss's ``update`` returns is included the same way. The sums are as returned
        (the step applies :meth:`MLEStep.aux_factor`).
        """
        batch = Batch(
            obs=obs[rows],
            actions=act[rows],
            rewards=rew[rows],
            next_obs=nxt[rows],
            terminals=term[rows],
        )
        inputs = UpdateInputs(step=step, real=batch, batch=batch, dynamics=dynamics)
        totals: list[Tensor] = []
        diagnostics: dict[str, Tensor] = {}
        for i, aux in enumerate(self.aux_losses):
            terms = {**aux.update(inputs), **aux.loss(inputs)}
            total = torch.zeros((), device=obs.device)
            for key, value in terms.items():
                if key.startswith("loss_"):
                    total = total + value
                diagnostics[f"aux_losses.{i}.{key}"] = value.detach()
            totals.append(total)
        return totals, diagnostics

    # ---------------------------------------------------------------- checkpoints
    def checkpoint_state(self) -> dict[str, Any]:
        """Module and optimizer state, plus each aux loss's own ``checkpoint_state``.

        Why: aux losses own optimizers (VIPO's value nets) and generators that the learner's
        ``state_dict`` does not hold.
        """
        return {
            **super().checkpoint_state(),
            "aux_losses": [aux.checkpoint_state() for aux in self.aux_losses],
        }

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`checkpoint_state`; optimizers not created yet are held until they are."""
        super().load_checkpoint_state(state)
        for aux, aux_state in zip(self.aux_losses, state.get("aux_losses", []), strict=False):
            aux.load_checkpoint_state(aux_state)


def _param_groups(dynamics: Dynamics) -> list[dict[str, Any]]:
    """Adam parameter groups: one per decayed weight (its L2 coefficient as Adam's
    ``weight_decay``, Dynamics.optimizer_weight_decay), then every other parameter.

    Why: the same update as the L2 terms in the loss (coupled weight decay adds c * W to the
    gradient) without their kernels (measured: compose/bench/PROFILE.md).
    """
    decayed = dynamics.optimizer_weight_decay()
    ids = {id(p) for p, _ in decayed}
    rest = [p for p in dynamics.parameters() if id(p) not in ids]
    groups: list[dict[str, Any]] = [{"params": [p], "weight_decay": c} for p, c in decayed]
    return [*groups, {"params": rest}] if rest else groups


def _regrouped(
    held: dict[str, Any], dynamics: Dynamics, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """A model-optimizer state saved with one parameter group (before the L2 terms moved
    into Adam: ``dynamics.parameters()`` order) re-indexed for ``optimizer``'s groups."""
    if len(held["param_groups"]) != 1:
        raise ValueError(
            f"mle: the saved model optimizer has {len(held['param_groups'])} parameter groups; "
            f"this learner builds {len(optimizer.param_groups)} (or one, from older versions)"
        )
    old_index = {id(p): i for i, p in enumerate(dynamics.parameters())}
    new_order = [p for group in optimizer.param_groups for p in group["params"]]
    state = {
        j: held["state"][old_index[id(p)]]
        for j, p in enumerate(new_order)
        if old_index[id(p)] in held["state"]
    }
    return {"state": state, "param_groups": optimizer.state_dict()["param_groups"]}


def _epoch_means(sums: dict[str, Tensor], counts: dict[str, int]) -> dict[str, float]:
    """Per-epoch means of the summed step terms over the steps that reported each, as floats
    (one host sync per epoch)."""
    if not sums:
        return {}
    keys = list(sums)
    steps = torch.tensor([max(counts[k], 1) for k in keys], dtype=torch.float32)
    values = (torch.stack([sums[k] for k in keys]) / steps.to(sums[keys[0]].device)).tolist()
    return dict(zip(keys, values, strict=True))


def _adam(params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Former helper; :func:`compose.nn.make_adam` (fused, else foreach Adam)."""
    return make_adam(params, lr)


class _Progress:
    """A rich progress bar over epochs showing the latest holdout MSE."""

    def __init__(self, total: int | None) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("model"),
            BarColumn(),
            TextColumn("epoch {task.completed}"),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            transient=True,
        )
        self._task = self._progress.add_task("model", total=total, status="")
        self._progress.start()

    def advance(self, metrics: dict[str, float]) -> None:
        status = f"holdout mse {metrics['holdout_mse']:.4g}  nll {metrics['train_nll']:.4g}"
        self._progress.update(self._task, advance=1, status=status)

    def close(self) -> None:
        self._progress.stop()


def _progress(enabled: bool, total: int | None) -> _Progress | None:
    return _Progress(total) if enabled else None
