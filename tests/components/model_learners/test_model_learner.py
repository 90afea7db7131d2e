"""mle: the NLL decreases, a linear system is fitted, early stopping, elites, snapshots."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pytest
import torch
from pydantic import ValidationError

from components.model_learners._mle import gaussian_nll, normalized_sq_error
from components.model_learners.mle import MLEConfig
from compose.kinds import AuxLoss, UpdateInputs
from compose.registry import ComponentConfig
from tests.helpers.model import gaussian_ensemble, linear_system, make_ctx, model_registry


class _Recorder:
    """A MetricsSink that keeps what it is given."""

    def __init__(self) -> None:
        self.rows: list[tuple[dict[str, float], int]] = []

    def __call__(self, metrics: dict[str, float], step: int) -> None:
        self.rows.append((dict(metrics), step))


def test_fits_linear_system_and_picks_lowest_holdout_elites() -> None:
    torch.manual_seed(0)
    data = linear_system(1200)
    ctx = make_ctx()
    model = gaussian_ensemble(ctx, members=4, elites=2, hidden=[32, 32], weight_decay=[0.0] * 3)
    learner = MLEConfig(holdout=200, batch_size=64, max_epochs=25, lr=5e-3).build(ctx)
    sink = _Recorder()
    torch.manual_seed(123)  # the holdout split is the first draw of pretrain
    result = learner.pretrain(model, data, sink)
    nll = [m["train_nll"] for m, _ in sink.rows]
    assert nll[-1] < nll[0] - 1.0, nll
    assert result["holdout_mse"] < 0.02, result
    assert [step for _, step in sink.rows] == list(range(1, len(sink.rows) + 1))
    # Elites are the members with the lowest holdout MSE, recomputed independently here.
    torch.manual_seed(123)
    perm = torch.randperm(1200)
    hold = perm[:200]
    obs, act = data.obs[hold], data.actions[hold]
    targets = torch.cat([data.next_obs[hold] - obs, data.rewards[hold, None]], -1)
    with torch.no_grad():
        model.eval()
        mse = normalized_sq_error(model.predict(obs, act), targets).mean((1, 2))
    assert sorted(result["elites"]) == sorted(torch.argsort(mse)[:2].tolist())
    assert model.elites.tolist() == sorted(result["elites"])
    torch.testing.assert_close(torch.tensor(result["holdout_mse"]), mse[model.elites].mean())


def test_early_stopping_triggers_and_restores_best_snapshot() -> None:
    torch.manual_seed(1)
    data = linear_system(400, noise=0.5)
    ctx = make_ctx()
    model = gaussian_ensemble(ctx, members=3, elites=2)
    # A learning rate this high makes holdout MSE stall: the patience rule must stop it.
    learner = MLEConfig(holdout=80, batch_size=50, patience=2, max_epochs=200, lr=0.05).build(ctx)
    sink = _Recorder()
    result = learner.pretrain(model, data, sink)
    assert result["epochs"] < 200
    since = [m["epochs_since_improvement"] for m, _ in sink.rows]
    assert since[-1] == 2 and all(s < 2 for s in since[:-1])
    # Every member is restored to its best snapshot: its holdout MSE is the best tracked one,
    # which is below what the last (non-improving) epoch measured.
    tracked = learner.member_holdout_mse
    torch.testing.assert_close(tracked["restored"], tracked["best"])
    assert result["holdout_mse_all"] < sink.rows[-1][0]["holdout_mse"] * 1.01


def test_max_updates_caps_training() -> None:
    torch.manual_seed(0)
    data = linear_system(300)
    ctx = make_ctx()
    model = gaussian_ensemble(ctx)
    result = (
        MLEConfig(holdout=0.2, batch_size=32, max_updates=5)
        .build(ctx)
        .pretrain(model, data, _Recorder())
    )
    assert result["updates"] == 5 and result["epochs"] == 1


def test_nll_matches_torch_normal() -> None:
    torch.manual_seed(0)
    model = gaussian_ensemble(make_ctx())
    obs, act = torch.randn(7, 3), torch.randn(7, 2)
    targets = torch.randn(7, 4)
    pred = model.predict(obs, act)
    ref = -torch.distributions.Normal(pred.normalized_mean, torch.exp(0.5 * pred.logvar)).log_prob(
        model.normalize_targets(targets)
    )
    torch.testing.assert_close(gaussian_nll(pred, targets), ref)
    sq = (model.normalize_targets(targets) - pred.normalized_mean).pow(2)
    torch.testing.assert_close(normalized_sq_error(pred, targets), sq)


def test_config_holdout_and_round_trip() -> None:
    assert isinstance(MLEConfig(holdout=1000).holdout, int)
    assert isinstance(MLEConfig(holdout=0.1).holdout, float)
    for bad in (0, 1.5, 0.0):
        with pytest.raises(ValidationError):
            MLEConfig(holdout=bad)
    cfg = MLEConfig(holdout=0.25, max_epochs=3, sampling="bootstrap")
    assert MLEConfig.model_validate(cfg.model_dump()) == cfg


class ToyAuxConfig(ComponentConfig):
    """A model aux loss for tests: pulls every normalized mean towards its own parameter c."""

    kind: ClassVar[str] = "aux_loss"
    attaches_to: ClassVar[tuple[str, ...]] = ("model",)
    type: Literal["toy_pull"] = "toy_pull"
    weight: float = 1.0

    def build(self, ctx: Any) -> Any:
        return _ToyAux(self.weight)


class _ToyAux(AuxLoss):
    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = weight
        self.c = torch.nn.Parameter(torch.tensor(3.0))
        self.register_optimizer("c", torch.optim.SGD([self.c], lr=1e-3), attached=True)
        self.updates = 0

    def update(self, inputs: UpdateInputs) -> dict[str, torch.Tensor]:
        self.updates += 1
        return {}

    def loss(self, inputs: UpdateInputs) -> dict[str, torch.Tensor]:
        assert inputs.dynamics is not None and inputs.real.obs.shape[0] <= 8
        pred = inputs.dynamics.predict(inputs.real.obs, inputs.real.actions)
        pull = (pred.normalized_mean - self.c).pow(2).mean()
        return {"loss_pull": self.weight * pull, "pull": pull.detach()}


def test_aux_losses_are_updated_added_and_their_optimizers_stepped() -> None:
    registry = model_registry(ToyAuxConfig)
    with registry.active():
        cfg = MLEConfig(
            holdout=40,
            batch_size=8,
            max_epochs=1,
            lr=1e-2,
            aux_losses=[{"type": "toy_pull", "weight": 50.0}],
        )
        plain = MLEConfig(holdout=40, batch_size=8, max_epochs=1, lr=1e-2)
    data = linear_system(200)
    means = []
    # One epoch: the restored best snapshot is the final state (any first epoch improves).
    for config in (cfg, plain):
        torch.manual_seed(0)
        ctx = make_ctx()
        model = gaussian_ensemble(ctx)
        learner = config.build(ctx)
        learner.pretrain(model, data, _Recorder())
        with torch.no_grad():
            means.append(model.predict(data.obs, data.actions).normalized_mean.mean())
        if config is cfg:
            (aux,) = learner.aux_losses
            assert aux.updates == 20  # ceil(160 / 8) steps of the one epoch
            assert (
                float(aux.c.detach()) < 3.0
            )  # its attached optimizer was stepped (c moves to the means)
    assert means[0] > means[1] + 0.5  # the pull towards c = 3 shaped the model


def test_non_finite_training_stops_with_a_message() -> None:
    torch.manual_seed(0)
    data = linear_system(200)
    data.rewards[5] = float("nan")  # one bad row poisons the NLL of the epoch it is in
    ctx = make_ctx()
    model = gaussian_ensemble(ctx)
    learner = MLEConfig(holdout=20, batch_size=32, max_epochs=3).build(ctx)
    with pytest.raises(FloatingPointError, match="non-finite values at epoch 1"):
        learner.pretrain(model, data, _Recorder())


def test_holdout_count_is_capped_at_a_fifth_of_the_data() -> None:
    data = linear_system(100)
    ctx = make_ctx()
    learner = MLEConfig(holdout=1000).build(ctx)
    train, hold = learner._split(data, torch.device("cpu"))
    assert len(hold[0]) == 20 and len(train[0]) == 80
    train, hold = MLEConfig(holdout=0.3).build(ctx)._split(data, torch.device("cpu"))
    assert len(hold[0]) == 30


def test_spectral_norm_model_trains() -> None:
    torch.manual_seed(0)
    data = linear_system(300)
    ctx = make_ctx()
    model = gaussian_ensemble(ctx, spectral_norm=True)
    sink = _Recorder()
    MLEConfig(holdout=60, batch_size=32, max_epochs=6, lr=5e-3).build(ctx).pretrain(
        model, data, sink
    )
    assert sink.rows[-1][0]["holdout_mse"] < sink.rows[0][0]["holdout_mse"]
    # One power iteration per step tracks sigma only approximately while the weights move;
    # a few more iterations on the fitted weights make the constraint exact.
    with torch.no_grad():
        for _ in range(100):
            model.predict(data.obs[:4], data.actions[:4])
    model.eval()
    for layer in [*model.trunk.linear_layers(), model.mean_head]:
        assert (torch.linalg.matrix_norm(layer.weight.detach(), ord=2) < 1.0 + 1e-3).all()
    free = torch.linalg.matrix_norm(model.logvar_head.weight.detach(), ord=2)
    assert free.shape == (4,)


def test_progress_bar_runs_and_reports_through_the_sink() -> None:
    torch.manual_seed(0)
    ctx = make_ctx()
    sink = _Recorder()
    MLEConfig(holdout=20, batch_size=32, max_epochs=2, progress=True).build(ctx).pretrain(
        gaussian_ensemble(ctx), linear_system(100), sink
    )
    assert [step for _, step in sink.rows] == [1, 2]


def test_bootstrap_is_the_default_and_each_member_keeps_one_resample() -> None:
    """MBPO/MOPO's bnn.py and OfflineRL-Kit draw each member's resample once per fit."""
    assert MLEConfig().sampling == "bootstrap"
    torch.manual_seed(0)
    data = linear_system(300)
    ctx = make_ctx()
    model = gaussian_ensemble(ctx, members=3, elites=2)
    learner = MLEConfig(holdout=50, batch_size=50, max_epochs=3, patience=10).build(ctx)
    seen: list[torch.Tensor] = []
    make_trainer = learner.trainer

    def recording_trainer(dynamics: Any, columns: Any) -> Any:
        trainer = make_trainer(dynamics, columns)
        step = trainer.step

        def recorded(idx: torch.Tensor) -> Any:
            seen.append(idx.clone())
            return step(idx)

        trainer.step = recorded
        return trainer

    learner.trainer = recording_trainer
    learner.pretrain(model, data, _Recorder())
    n_train, per_epoch = 250, 5
    epochs = [torch.cat(seen[i : i + per_epoch], 1) for i in range(0, len(seen), per_epoch)]
    assert len(epochs) == 3 and epochs[0].shape == (3, n_train)
    for member in range(3):
        rows = [e[member].sort().values for e in epochs]
        # the same multiset of rows every epoch (one resample), in a new order ...
        assert all(torch.equal(rows[0], r) for r in rows[1:])
        assert not torch.equal(epochs[0][member], epochs[1][member])
        # ... drawn with replacement: some rows twice, some not at all (~37% of them)
        assert rows[0].unique().numel() < n_train
    # and each member has its own resample
    assert not torch.equal(epochs[0][0].sort().values, epochs[0][1].sort().values)


def test_shuffle_option_gives_every_member_every_row() -> None:
    ctx = make_ctx()
    learner = MLEConfig(sampling="shuffle").build(ctx)
    resample = learner._resample(3, 40, torch.device("cpu"))
    order = learner._order(resample, 3, 40, torch.device("cpu"))
    assert resample is None
    for member in range(3):
        assert torch.equal(order[member].sort().values, torch.arange(40))
