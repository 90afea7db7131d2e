"""Speed work must not change results: each fast path against the straightforward one."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from compose.kinds import Agent, PolicySample
from compose.nn import EnsembleLinear, QEnsemble, ensemble_linear, make_adam
from tests.helpers.vipo import fit_normalizer, linear_batch, make_ctx, tiny_ensemble

pytestmark = pytest.mark.usefixtures("one_thread")


def fitted_ensemble(rows: int) -> tuple[Any, Any, Any]:
    """(ctx, a tiny seeded ensemble with its normalizer fitted, the linear batch of ``rows``)."""
    ctx = make_ctx()
    torch.manual_seed(0)
    dynamics = tiny_ensemble(ctx)
    batch = linear_batch(rows)
    fit_normalizer(dynamics, batch)
    return ctx, dynamics, batch


# ------------------------------------------------------------------ EnsembleLinear, out == 1
@pytest.mark.parametrize("out_features", [1, 5])
def test_ensemble_linear_matches_baddbmm_forward_and_backward(out_features: int) -> None:
    torch.manual_seed(0)
    layer = EnsembleLinear(7, out_features, members=3)
    nn.init.normal_(layer.bias)
    x = torch.randn(3, 11, 7, requires_grad=True)
    g = torch.randn(3, 11, out_features)
    y = layer(x)
    gx, gw, gb = torch.autograd.grad(y, (x, layer.weight, layer.bias), g)
    x2 = x.detach().clone().requires_grad_(True)
    w2 = layer.weight.detach().clone().requires_grad_(True)
    b2 = layer.bias.detach().clone().requires_grad_(True)
    y2 = torch.baddbmm(b2, x2, w2)
    rx, rw, rb = torch.autograd.grad(y2, (x2, w2, b2), g)
    torch.testing.assert_close(y, y2)
    torch.testing.assert_close(gx, rx)
    torch.testing.assert_close(gw, rw)
    torch.testing.assert_close(gb, rb)


def test_q_frozen_equals_forward_and_leaves_params_without_grad() -> None:
    torch.manual_seed(1)
    q = QEnsemble(4, 2, hidden=(8, 8), num_critics=2)
    obs, act = torch.randn(5, 4), torch.randn(5, 2, requires_grad=True)
    frozen = q.frozen(obs, act)
    torch.testing.assert_close(frozen, q(obs, act))
    frozen.sum().backward()
    assert act.grad is not None and all(p.grad is None for p in q.parameters())
    assert torch.equal(
        ensemble_linear(torch.ones(1, 1, 2), torch.ones(1, 2, 1), torch.zeros(1, 1, 1)),
        torch.full((1, 1, 1), 2.0),
    )


# ------------------------------------------------------------------ Adam
def test_make_adam_is_fused_on_cpu_and_steps_like_adam() -> None:
    torch.manual_seed(2)
    net = nn.Linear(6, 3)
    ref = copy.deepcopy(net)
    fast = make_adam(net.parameters(), lr=1e-2)
    slow = torch.optim.Adam(ref.parameters(), lr=1e-2, foreach=False)
    assert fast.defaults["fused"] is True
    for _ in range(5):
        x = torch.randn(8, 6)
        for model, opt in ((net, fast), (ref, slow)):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
    for a, b in zip(net.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    scalar = nn.Parameter(torch.zeros(()))  # SAC's log_alpha is 0-dim
    make_adam([scalar], lr=0.1)


# ------------------------------------------------------------------ bellman_inconsistency chunks
class _Deterministic(nn.Module):
    """The tanh-Gaussian policy's mean action (so chunking changes no random draw)."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> PolicySample:
        return self.policy(obs, deterministic=True)


def _bellman(chunk_rows: int, agent: Agent, dynamics: Any, ctx: Any, batch: Any) -> torch.Tensor:
    from components.uncertainty.bellman_inconsistency import BellmanInconsistencyConfig

    unc = BellmanInconsistencyConfig(samples=4, chunk_rows=chunk_rows, members="all").build(ctx)
    torch.manual_seed(7)
    return unc(batch.obs, batch.actions, dynamics=dynamics, agent=agent)


def test_bellman_inconsistency_chunked_equals_unchunked_and_per_member_loop() -> None:
    from components.policies.tanh_gaussian import TanhGaussianConfig

    ctx, dynamics, batch = fitted_ensemble(10)
    dynamics.eval()
    policy = _Deterministic(TanhGaussianConfig(hidden=[8, 8]).build(ctx))
    critic = QEnsemble(3, 2, hidden=(8, 8), num_critics=2)
    agent = Agent(
        policy=policy,
        critic=critic,
        target_critic=critic,
        gamma=0.9,
        temperature=lambda: torch.tensor(0.1),
    )
    whole = _bellman(10_000, agent, dynamics, ctx, batch)
    for chunk_rows in (1, 12, 25):  # 1 model row per chunk, 1 row, 2 rows (E=3, N=4)
        torch.testing.assert_close(_bellman(chunk_rows, agent, dynamics, ctx, batch), whole)
    # Reference: per member, per sample, per critic loops on the same noise.
    torch.manual_seed(7)
    with torch.no_grad():
        pred = dynamics.predict(batch.obs, batch.actions)
        do = 3
        noise = torch.randn(3, 4, 10, do)
        backups = []
        for e in range(3):
            per_sample = []
            for j in range(4):
                s2 = batch.obs + pred.mean[e, :, :do] + pred.std[e, :, :do] * noise[e, j]
                a2 = policy(s2).actions
                qs = critic(s2, a2)
                per_sample.append(torch.minimum(qs[0], qs[1]))
            backups.append(0.9 * torch.stack(per_sample).mean(0))
        ref = torch.stack(backups).std(0)
    torch.testing.assert_close(whole, ref)


# ------------------------------------------------------------------ mle: cached spectral norm
def test_mle_step_cached_equals_one_power_iteration_per_step() -> None:
    from components.model_learners.mle import MLEConfig

    ctx = make_ctx()
    torch.manual_seed(0)
    dyn = tiny_ensemble(ctx, spectral_norm=True)
    batch = linear_batch(40)
    fit_normalizer(dyn, batch)
    ref = copy.deepcopy(dyn)
    cols = (batch.obs, batch.actions, batch.next_obs, batch.rewards, batch.terminals)
    trainer = MLEConfig().build(ctx).trainer(dyn, cols)
    idx = torch.randint(0, 40, (3, 16))
    dyn.train()
    trainer.step(idx)  # cached(): the weights are parametrized once

    from components.model_learners._mle import gaussian_nll

    ref.train()
    opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
    pred = ref.predict(batch.obs[idx], batch.actions[idx])
    targets = torch.cat([batch.next_obs - batch.obs, batch.rewards.unsqueeze(-1)], -1)
    loss = 2.0 * 3 * gaussian_nll(pred, targets[idx]).mean()
    ref.eval()  # the regularization reads the weights without a second power iteration
    loss = loss + ref.regularization()
    ref.train()
    opt.zero_grad()
    loss.backward()
    opt.step()
    for (name, a), b in zip(dyn.state_dict().items(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    assert any(parametrize.is_parametrized(m) for m in dyn.modules())


# ------------------------------------------------------------------ mle: aux diagnostics, checkpoint
def _vipo_learner(ctx: Any) -> Any:
    from components.model_learners.mle import MLEConfig
    from compose.plugins import load_plugins

    # the full registry, active: another test's isolated registry may have built the schemas
    with load_plugins().registry.active():
        return MLEConfig.model_validate(
            {
                "holdout": 10,
                "batch_size": 16,
                "max_updates": 6,
                "aux_losses": [
                    {"type": "value_inconsistency", "weight": 0.5, "hidden": [8], "samples": 2}
                ],
            }
        ).build(ctx)


def test_mle_logs_aux_diagnostics_and_checkpoints_aux_state() -> None:
    ctx = make_ctx(seed=3)
    torch.manual_seed(0)
    dyn = tiny_ensemble(ctx)
    ctx.dynamics = dyn
    data = linear_batch(60)
    learner = _vipo_learner(ctx)
    logged: list[dict[str, float]] = []
    learner.pretrain(dyn, data, lambda metrics, step: logged.append(dict(metrics)))
    keys = set(logged[0])
    for key in (
        "aux_losses.0.loss_value_inconsistency",
        "aux_losses.0.inconsistency",
        "aux_losses.0.v_d",
        "aux_losses.0.v_d_loss",
    ):
        assert key in keys, sorted(keys)
    aux = learner.aux_losses[0]
    assert aux.optimizer.state  # the value nets' Adam has moments
    state = learner.checkpoint_state()
    assert "values" in state["aux_losses"][0]["optimizers"]

    fresh = _vipo_learner(ctx)
    fresh.trainer(
        tiny_ensemble(ctx), (data.obs, data.actions, data.next_obs, data.rewards, data.terminals)
    )
    fresh.load_checkpoint_state(state)
    new_aux = fresh.aux_losses[0]
    for a, b in zip(aux.state_dict().values(), new_aux.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(aux.generator.get_state(), new_aux.generator.get_state())
    moments = aux.optimizer.state_dict()["state"]
    loaded = new_aux.optimizer.state_dict()["state"]
    assert moments.keys() == loaded.keys()
    for k in moments:
        torch.testing.assert_close(moments[k]["exp_avg"], loaded[k]["exp_avg"])


# ------------------------------------------------------------------ VIPO: shared forward, one member
def test_member_forward_equals_slice_of_forward() -> None:
    from compose.nn import EnsembleMLP

    torch.manual_seed(4)
    net = EnsembleMLP(5, 1, [16, 16], members=2)
    x = torch.randn(9, 5)
    full = net(x)
    for m in range(2):
        torch.testing.assert_close(net.member_forward(x, m), full[m : m + 1])


def test_value_inconsistency_reused_forward_gives_the_same_loss_and_gradient() -> None:
    from components.aux_losses.value_inconsistency import ValueInconsistencyConfig
    from compose.kinds import UpdateInputs

    ctx = make_ctx(seed=3)
    torch.manual_seed(0)
    dyn = tiny_ensemble(ctx, spectral_norm=True)
    batch = linear_batch(12)
    fit_normalizer(dyn, batch)
    dyn.train()
    aux = ValueInconsistencyConfig(weight=0.7, samples=2, hidden=[16]).build(ctx)
    inputs = UpdateInputs(step=0, real=batch, batch=batch, dynamics=dyn)
    aux.update(inputs)
    assert aux._kept is not None
    gen = aux.generator.get_state()
    params = [p for p in dyn.parameters() if p.requires_grad]
    reused = aux.loss(inputs)
    g1 = torch.autograd.grad(reused["loss_value_inconsistency"], params, allow_unused=True)
    aux.generator.set_state(gen)
    own = aux.loss(inputs)  # nothing kept now: its own forward
    g2 = torch.autograd.grad(own["loss_value_inconsistency"], params, allow_unused=True)
    for key in reused:
        torch.testing.assert_close(reused[key], own[key])
    for a, b in zip(g1, g2, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b)
    # A training-mode forward in between (spectral-norm step) invalidates what was kept.
    aux.update(inputs)
    dyn.predict(batch.obs, batch.actions)
    kept = aux._kept
    aux.loss(inputs)
    assert kept is not None and aux._kept is None


# ------------------------------------------------------------------ gaussian_ensemble: fused heads
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_fused_heads_equal_two_heads_forward_backward_and_without_grad(spectral_norm: bool) -> None:
    import torch.nn.functional as F

    ctx = make_ctx()
    torch.manual_seed(0)
    dyn = tiny_ensemble(ctx, spectral_norm=spectral_norm)
    fit_normalizer(dyn, linear_batch(40))
    for layer in dyn.linear_layers():
        nn.init.normal_(layer.bias)
    dyn.eval()  # no power iteration: both paths read the same normalized weights
    obs, act = torch.randn(3, 6, 3), torch.randn(3, 6, 2)
    g_mu, g_lv = torch.randn(3, 6, 4), torch.randn(3, 6, 4)

    mu, lv = dyn.forward_normalized(obs, act)
    fast = torch.autograd.grad((mu * g_mu).sum() + (lv * g_lv).sum(), list(dyn.parameters()))
    # Reference: the trunk, then each head as its own EnsembleLinear call.
    x = (torch.cat([obs, act], -1) - dyn.input_mean) / dyn.input_std
    h = F.silu(dyn.trunk(x))
    mu2, lv2 = dyn.mean_head(h), dyn.logvar_head(h)
    lv2 = dyn.max_logvar - F.softplus(dyn.max_logvar - lv2)
    lv2 = dyn.min_logvar + F.softplus(lv2 - dyn.min_logvar)
    ref = torch.autograd.grad((mu2 * g_mu).sum() + (lv2 * g_lv).sum(), list(dyn.parameters()))
    torch.testing.assert_close(mu, mu2)
    torch.testing.assert_close(lv, lv2)
    for a, b in zip(fast, ref, strict=True):
        torch.testing.assert_close(a, b)
    with torch.no_grad():  # the in-place activation path
        mu3, lv3 = dyn.forward_normalized(obs, act)
    torch.testing.assert_close(mu3, mu2.detach())
    torch.testing.assert_close(lv3, lv2.detach())


# ------------------------------------------------------------------ members balanced over threads
@pytest.fixture
def two_threads_balanced(monkeypatch: pytest.MonkeyPatch) -> Any:
    """2 torch threads and no size threshold, so 3 members take the balanced path (2 + 1)."""
    import compose.nn.balanced as balanced

    monkeypatch.setattr(balanced, "MIN_MACS", 0)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        yield balanced
    finally:
        torch.set_num_threads(previous)


def test_balanced_split_only_where_threads_do_not_divide_members(two_threads_balanced: Any) -> None:
    split = two_threads_balanced.balanced_split
    assert split(torch.zeros(7, 4, 5), torch.zeros(7, 5, 6)) == 6
    assert split(torch.zeros(3, 4, 5), torch.zeros(3, 5, 6)) == 2
    assert split(torch.zeros(2, 4, 5), torch.zeros(2, 5, 6)) is None  # 2 threads divide 2
    assert split(torch.zeros(1, 4, 5), torch.zeros(1, 5, 6)) is None
    torch.set_num_threads(1)
    assert split(torch.zeros(7, 4, 5), torch.zeros(7, 5, 6)) is None


def test_balanced_affine_equals_baddbmm_forward_backward_and_double_backward(
    two_threads_balanced: Any,
) -> None:
    from compose.nn import ensemble_linear

    torch.manual_seed(0)
    x = torch.randn(3, 9, 5, requires_grad=True)
    w = torch.randn(3, 5, 4, requires_grad=True)
    b = torch.randn(3, 1, 4, requires_grad=True)
    g = torch.randn(3, 9, 4)
    y = ensemble_linear(x, w, b)
    assert y.grad_fn is not None and "Balanced" in type(y.grad_fn).__name__
    grads = torch.autograd.grad(y, (x, w, b), g)
    y_ref = torch.baddbmm(b, x, w)
    ref = torch.autograd.grad(y_ref, (x, w, b), g)
    torch.testing.assert_close(y, y_ref)
    for a, r in zip(grads, ref, strict=True):
        torch.testing.assert_close(a, r)
    # Only the weight needs a gradient (a first layer on data), and no graph at all.
    gw = torch.autograd.grad(ensemble_linear(x.detach(), w, b), w, g)[0]
    torch.testing.assert_close(gw, ref[1])
    with torch.no_grad():
        torch.testing.assert_close(ensemble_linear(x, w, b), y_ref)
    # Shared input [B, in] expanded over members (EnsembleMLP's 2-D input).
    x2 = torch.randn(9, 5, requires_grad=True)
    gx2 = torch.autograd.grad(ensemble_linear(x2.expand(3, 9, 5), w, b), x2, g)[0]
    torch.testing.assert_close(
        gx2, torch.autograd.grad(torch.baddbmm(b, x2.expand(3, 9, 5), w), x2, g)[0]
    )
    # create_graph (the bilevel learner): second derivatives through the plain ops.
    gx = torch.autograd.grad((ensemble_linear(x, w, b) * g).sum(), w, create_graph=True)[0]
    gx_ref = torch.autograd.grad((torch.baddbmm(b, x, w) * g).sum(), w, create_graph=True)[0]
    second = torch.autograd.grad(gx.pow(2).sum(), x)[0]
    second_ref = torch.autograd.grad(gx_ref.pow(2).sum(), x)[0]
    torch.testing.assert_close(second, second_ref)


def test_balanced_path_stays_out_of_vmap(two_threads_balanced: Any) -> None:
    from compose.nn import ensemble_linear

    torch.manual_seed(1)
    x, w, b = torch.randn(4, 3, 9, 5), torch.randn(4, 3, 5, 4), torch.randn(4, 3, 1, 4)
    out = torch.func.vmap(ensemble_linear)(x, w, b)
    torch.testing.assert_close(
        out, torch.baddbmm(b.flatten(0, 1), x.flatten(0, 1), w.flatten(0, 1)).view(4, 3, 9, 4)
    )


def test_dynamics_mle_step_with_balanced_members_equals_plain(two_threads_balanced: Any) -> None:
    from components.model_learners.mle import MLEConfig

    ctx, dyn, batch = fitted_ensemble(40)  # 3 members on 2 threads
    ref = copy.deepcopy(dyn)
    cols = (batch.obs, batch.actions, batch.next_obs, batch.rewards, batch.terminals)
    idx = torch.randint(0, 40, (3, 16))
    dyn.train()
    ref.train()
    MLEConfig().build(ctx).trainer(dyn, cols).step(idx)
    two_threads_balanced.MIN_MACS = 1 << 62  # the plain baddbmm path
    MLEConfig().build(ctx).trainer(ref, cols).step(idx)
    for (name, a), r in zip(dyn.state_dict().items(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(a, r, msg=name)


# ------------------------------------------------------------------ weight decay as one node
def test_weight_decay_penalty_equals_per_layer_sum_value_grad_and_double_backward() -> None:
    from compose.nn import weight_decay_penalty

    torch.manual_seed(3)
    ws = [
        torch.randn(3, 5, 4, requires_grad=True),
        torch.randn(3, 4, 2, requires_grad=True),
        torch.randn(3, 2, 1, requires_grad=True),
    ]
    coefs = [2.5e-5, 0.0, 1e-4]  # a zero coefficient: no term, zero gradient
    fast = weight_decay_penalty(ws, coefs)
    ref = sum(c * 0.5 * w.pow(2).sum() for c, w in zip(coefs, ws, strict=True))
    torch.testing.assert_close(fast, ref)
    g_fast = torch.autograd.grad(3.0 * fast, [ws[0], ws[2]])
    g_ref = torch.autograd.grad(3.0 * ref, [ws[0], ws[2]])
    for a, b in zip(g_fast, g_ref, strict=True):
        torch.testing.assert_close(a, b)
    # create_graph: the gradient itself differentiable (second derivative c * I).
    (g,) = torch.autograd.grad(weight_decay_penalty(ws, coefs), [ws[0]], create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), [ws[0]])
    torch.testing.assert_close(h, torch.full_like(ws[0], 2.5e-5))
    assert float(weight_decay_penalty(ws, [0.0, 0.0, 0.0])) == 0.0


def test_gaussian_ensemble_regularization_equals_layer_decay_losses() -> None:
    ctx = make_ctx()
    torch.manual_seed(0)
    dyn = tiny_ensemble(ctx, spectral_norm=True)
    dyn.eval()
    fast = dyn.regularization()
    ref = sum(layer.decay_loss() for layer in dyn.linear_layers())
    ref = ref + dyn.logvar_bound_weight * (dyn.max_logvar.sum() - dyn.min_logvar.sum())
    torch.testing.assert_close(fast, ref)
    params = [p for p in dyn.parameters() if p.requires_grad]
    for a, b in zip(
        torch.autograd.grad(fast, params, allow_unused=True),
        torch.autograd.grad(ref, params, allow_unused=True),
        strict=True,
    ):
        if a is None or b is None:
            assert a is None and b is None
        else:
            torch.testing.assert_close(a, b)


# ------------------------------------------------------------------ mle: weight decay in Adam
def test_mle_step_with_decay_in_adam_equals_decay_in_the_loss() -> None:
    from components.model_learners._mle import gaussian_nll
    from components.model_learners.mle import MLEConfig

    ctx, dyn, batch = fitted_ensemble(40)  # no spectral norm: every layer's decay goes to Adam
    ref = copy.deepcopy(dyn)
    assert len(dyn.optimizer_weight_decay()) == len(dyn.linear_layers())
    cols = (batch.obs, batch.actions, batch.next_obs, batch.rewards, batch.terminals)
    trainer = MLEConfig().build(ctx).trainer(dyn, cols)
    assert trainer.optimizer_decay
    opt = torch.optim.Adam(ref.parameters(), lr=MLEConfig().lr)  # decay in the loss
    targets = torch.cat([batch.next_obs - batch.obs, batch.rewards.unsqueeze(-1)], -1)
    dyn.train()
    ref.train()
    for step in range(4):
        idx = torch.randint(0, 40, (3, 16), generator=torch.Generator().manual_seed(step))
        trainer.step(idx)
        pred = ref.predict(batch.obs[idx], batch.actions[idx])
        loss = 2.0 * 3 * gaussian_nll(pred, targets[idx]).mean() + ref.regularization()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for (name, a), b in zip(dyn.state_dict().items(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    # The loss-side regularization without the optimizer's terms: the log-variance bounds only.
    bounds = dyn.logvar_bound_weight * (dyn.max_logvar.sum() - dyn.min_logvar.sum())
    torch.testing.assert_close(dyn.regularization(optimizer_decay=True), bounds)


def test_mle_loads_a_model_optimizer_saved_with_one_parameter_group() -> None:
    """Checkpoints and model-cache entries from before the decay moved into Adam."""
    from components.model_learners.mle import MLEConfig

    ctx, dyn, batch = fitted_ensemble(40)
    cols = (batch.obs, batch.actions, batch.next_obs, batch.rewards, batch.terminals)
    old = torch.optim.Adam(dyn.parameters(), lr=1e-3)  # the former single group
    dyn.regularization().backward()
    old.step()
    learner = MLEConfig().build(ctx)
    learner.load_checkpoint_state(
        {**learner.checkpoint_state(), "optimizers": {"model": old.state_dict()}}
    )
    trainer = learner.trainer(dyn, cols)
    stepped = [p for p in dyn.parameters() if p in old.state]  # the biases had no gradient
    assert len(stepped) == len(dyn.linear_layers()) + 2
    for p in dyn.parameters():  # each parameter got its own moments back
        if p in old.state:
            torch.testing.assert_close(
                trainer.optimizer.state[p]["exp_avg"], old.state[p]["exp_avg"]
            )
        else:
            assert p not in trainer.optimizer.state
