"""Numerical tests of RAMBO's and ROMI's components (adversarial_value, robust_value_aware,
bilevel_reweighted, alternating_mle)."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys

import pytest
import torch

from tests.helpers.romi import make_setup

torch.set_num_threads(1)

CONFIG_MODULES = (
    "components.aux_losses.adversarial_value",
    "components.aux_losses.robust_value_aware",
    "components.model_learners.bilevel_reweighted",
    "components.model_learners.alternating_mle",
)


@pytest.fixture(scope="module")
def registry():
    from compose.plugins import load_plugins

    reg = load_plugins().registry
    reg.finalize()
    return reg


def _cfg(registry, name: str, kind: str, **fields):
    return registry.get(kind, name).config.model_validate({"type": name, **fields})


def _inputs(setup, batch, step: int = 0):
    from compose.kinds import UpdateInputs

    return UpdateInputs(step=step, real=batch, agent=setup.agent, dynamics=setup.dynamics)


def _batch(setup, n: int | None = None):
    from compose.kinds import Batch

    d = setup.data
    n = n or len(d)
    return Batch(
        obs=d.obs[:n],
        actions=d.actions[:n],
        rewards=d.rewards[:n],
        next_obs=d.next_obs[:n],
        terminals=d.terminals[:n],
    )


def test_configs_import_without_torch() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CONFIG_MODULES)
        + ("assert 'torch' not in sys.modules, 'torch imported'\n")
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_registered_and_validated(registry) -> None:
    from pydantic import ValidationError

    cfg = _cfg(
        registry,
        "bilevel_reweighted",
        "model_learner",
        outer={"type": "robust_value_aware", "xi": 0.1},
    )
    assert cfg.outer.xi == 0.1 and cfg.weight_min == 0.5 and cfg.weight_max == 2.0
    assert _cfg(registry, "adversarial_value", "aux_loss").weight == 3e-4
    with pytest.raises(ValidationError):
        _cfg(registry, "bilevel_reweighted", "model_learner", weight_min=2.0, weight_max=1.0)
    with pytest.raises(ValidationError):
        _cfg(registry, "robust_value_aware", "aux_loss", xi=-1.0)


def test_robust_value_aware_matches_hand_computation(registry) -> None:
    """Eq. 6 with injected noise == a per-member, per-sample loop; grads reach only the model."""
    from components.policies.tanh_gaussian import TanhGaussianConfig

    s = make_setup(n=16, dtype=torch.float64)
    # A (numerically) deterministic policy: std ~ 1e-13, so both sides see the same actions.
    s.agent.policy = (
        TanhGaussianConfig(hidden=[8], log_std_min=-30.0, log_std_max=-29.0).build(s.ctx).double()
    )
    aux = _cfg(
        registry, "robust_value_aware", "aux_loss", xi=0.3, samples=4, model_samples=2, weight=2.0
    ).build(s.ctx)
    b = _batch(s)
    g = torch.Generator().manual_seed(1)
    model_noise = torch.randn(2, 3, 16, 3, generator=g, dtype=torch.float64)
    state_noise = torch.randn(4, 16, 3, generator=g, dtype=torch.float64) * 0.1
    terms = aux.terms(
        b.obs,
        b.actions,
        b.next_obs,
        b.terminals,
        dynamics=s.dynamics,
        agent=s.agent,
        model_noise=model_noise,
        state_noise=state_noise,
    )

    def vbar(x: torch.Tensor) -> float:
        a = s.agent.policy(x.unsqueeze(0), deterministic=True).actions
        return float(s.agent.target_critic(x.unsqueeze(0), a).min())

    with torch.no_grad():
        pred = s.dynamics.predict(b.obs, b.actions)
        total, rows = 0.0, 0
        for e in range(3):
            per_member = 0.0
            for i in range(16):
                if b.terminals[i] == 1:
                    continue
                mv = (
                    sum(
                        vbar(
                            b.obs[i]
                            + pred.mean[e, i, :3]
                            + pred.std[e, i, :3] * model_noise[m, e, i]
                        )
                        for m in range(2)
                    )
                    / 2
                )
                target = min(vbar(b.next_obs[i] + state_noise[j, i]) for j in range(4))
                per_member += (mv - target) ** 2
            rows = int((b.terminals == 0).sum())
            total += per_member / rows
    assert torch.allclose(
        terms["loss_robust_value_aware"], torch.tensor(2.0 * total, dtype=torch.float64), rtol=1e-6
    )
    terms["loss_robust_value_aware"].backward()
    assert all(p.grad is None for p in s.agent.policy.parameters())
    assert all(p.grad is None for p in s.agent.target_critic.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in s.dynamics.parameters())


def test_ball_noise_is_inside_the_ball() -> None:
    from components.aux_losses._robust_value_aware import ball_noise

    x = ball_noise((2000, 5), 0.7, "cpu", torch.float32)
    norms = x.norm(dim=-1)
    assert norms.max() <= 0.7 + 1e-6
    assert norms.mean() > 0.7 * 0.7  # uniform in a 5-ball: E||x|| = 5/6 r


def _bilevel(registry, setup, **fields):
    cfg = _cfg(
        registry,
        "bilevel_reweighted",
        "model_learner",
        weight_hidden=[8],
        pretrain_epochs=0,
        outer={"type": "robust_value_aware", "xi": 0.5, "samples": 4},
        **fields,
    )
    return cfg.build(setup.ctx)


def test_bilevel_outer_gradient_matches_finite_differences(registry) -> None:
    """d L_outer(psi - beta grad L_WSL(psi, nu)) / d nu == central finite differences (float64)."""
    s = make_setup(n=32, dtype=torch.float64)
    learner = _bilevel(registry, s, inner_lr=0.5).double()
    inputs = _inputs(s, _batch(s))

    def outer_loss() -> torch.Tensor:
        torch.manual_seed(123)  # same noise and policy samples at every evaluation
        return learner.hypergradient(s.dynamics, inputs)[2]["outer_loss"]

    torch.manual_seed(123)
    g_nu, _, _ = learner.hypergradient(s.dynamics, inputs)
    nu = list(learner.weight_net.parameters())
    gen = torch.Generator().manual_seed(7)
    direction = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in nu]
    analytic = sum((g * v).sum() for g, v in zip(g_nu, direction, strict=True))
    h = 1e-5
    with torch.no_grad():
        for p, v in zip(nu, direction, strict=True):
            p.add_(h * v)
    plus = outer_loss()
    with torch.no_grad():
        for p, v in zip(nu, direction, strict=True):
            p.sub_(2 * h * v)
    minus = outer_loss()
    numeric = (plus - minus) / (2 * h)
    assert analytic.abs() > 1e-8, "degenerate test: the hypergradient vanished"
    assert torch.allclose(analytic, numeric, rtol=1e-4, atol=1e-10), (analytic, numeric)


def test_weights_stay_in_range(registry) -> None:
    s = make_setup(n=64)
    learner = _bilevel(
        registry, s, weight_min=0.25, weight_max=3.0, weight_lr=0.5, every=1, updates=5
    )
    b = _batch(s)
    with torch.no_grad():
        for p in learner.weight_net.parameters():
            p.mul_(50.0)  # saturate tanh on both sides
    w = learner.weight_net(b.obs * 100, b.actions, b.next_obs * -100)
    assert w.min() >= 0.25 and w.max() <= 3.0
    assert w.max() - w.min() > 1.0  # both ends reached, not a constant
    terms = learner.update(_inputs(s, b, step=0))
    assert 0.25 <= terms["weight_min"] <= terms["weight_max"] <= 3.0
    assert torch.isfinite(terms["outer_grad_norm"]) and torch.isfinite(terms["inner_grad_norm"])


def test_bilevel_sgd_step_is_the_unrolled_step(registry) -> None:
    """inner_optimizer sgd: the model's new parameters equal psi - beta grad L_WSL(psi, nu)."""
    s = make_setup(n=32)
    learner = _bilevel(registry, s, inner_optimizer="sgd", inner_lr=0.01, every=1, updates=1)
    b = _batch(s)
    before = {n: p.detach().clone() for n, p in s.dynamics.named_parameters()}
    loss, _, _ = learner.inner_loss(s.dynamics, _inputs(s, b))
    grads = torch.autograd.grad(loss, list(s.dynamics.parameters()))
    learner.model_step(_inputs(s, b))
    for (name, p), g in zip(s.dynamics.named_parameters(), grads, strict=True):
        assert torch.allclose(p, before[name] - 0.01 * g, atol=1e-7), name


def test_bilevel_schedule_and_pretrain(registry) -> None:
    s = make_setup(n=80)
    learner = _bilevel(registry, s, every=3, updates=2, holdout=20)
    learner.config = learner.config.model_copy(update={"pretrain_epochs": 2})
    logged: list[int] = []
    metrics = learner.pretrain(s.dynamics, s.data, lambda m, step: logged.append(step))
    assert logged == [0, 1] and set(metrics) == {"holdout_nll", "holdout_mse"}
    assert learner.updates_during_policy
    assert learner.update(_inputs(s, _batch(s), step=1)) == {}
    before = [p.detach().clone() for p in learner.weight_net.parameters()]
    terms = learner.update(_inputs(s, _batch(s), step=3))
    assert "outer/rvl" in terms and torch.isfinite(terms["outer_loss"])
    assert any(
        not torch.equal(a, p) for a, p in zip(before, learner.weight_net.parameters(), strict=True)
    )


def _alternating(registry, setup, aux):
    cfg = _cfg(
        registry,
        "alternating_mle",
        "model_learner",
        pretrain_epochs=0,
        every=1,
        updates=3,
        batch_size=16,
        aux_losses=aux,
    )
    return cfg.build(setup.ctx)


@pytest.mark.parametrize("weight", [0.0, 0.5])
def test_adversarial_lambda_zero_gives_exactly_mle(registry, weight: float) -> None:
    """lambda = 0: the same parameters as plain MLE updates; lambda > 0: different ones."""
    s = make_setup(n=64)
    start = copy.deepcopy(s.dynamics.state_dict())
    torch.manual_seed(5)
    plain = _alternating(registry, s, [])
    plain.update(_inputs(s, _batch(s)))
    mle_params = [p.detach().clone() for p in s.dynamics.parameters()]

    s.dynamics.load_state_dict(start)
    torch.manual_seed(5)
    adv = _alternating(registry, s, [{"type": "adversarial_value", "weight": weight, "horizon": 2}])
    terms = adv.update(_inputs(s, _batch(s)))
    same = all(torch.equal(a, b) for a, b in zip(mle_params, s.dynamics.parameters(), strict=True))
    assert same == (weight == 0.0)
    assert "aux0/adv_grad_norm" in terms and "loss_adversarial_0" in terms
    assert (terms["aux0/adv_grad_norm"] > 0) == (weight > 0)
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in s.agent.critic.parameters())


def test_adversarial_gradient_is_the_score_function(registry) -> None:
    """horizon 1: grad of the surrogate == lambda * sum_e mean_b A_norm grad log T_e (by hand)."""
    from components.aux_losses._adversarial_value import normalize_advantage

    s = make_setup(n=32, dtype=torch.float64)
    aux = _cfg(registry, "adversarial_value", "aux_loss", weight=0.1, horizon=1).build(s.ctx)
    inputs = _inputs(s, _batch(s))
    torch.manual_seed(3)
    terms = aux.loss(inputs)
    params = list(s.dynamics.parameters())
    got = torch.autograd.grad(terms["loss_adversarial"], params, allow_unused=True)
    # Replay the same draws: policy, member samples, next-state policy.
    torch.manual_seed(3)
    b = inputs.real
    with torch.no_grad():
        a = s.agent.policy(b.obs).actions
        q = s.agent.critic(b.obs, a).min(0).values
        pred = s.dynamics.predict(b.obs, a)
        out = pred.mean + pred.std * torch.randn_like(pred.mean)
        nxt, r = b.obs + out[..., :3], out[..., -1]
        v = s.agent.critic(nxt, s.agent.policy(nxt).actions).min(0).values
        adv = normalize_advantage(r + 0.99 * v - q, torch.ones_like(r))
    expected = [torch.zeros_like(p) for p in params]
    for e in range(3):  # per-member reference
        lp = s.dynamics.log_prob(b.obs.expand(3, -1, -1), a.expand(3, -1, -1), nxt, r)[e]
        grads = torch.autograd.grad((adv[e] * lp).mean(), params, allow_unused=True)
        expected = [x + (0 if g is None else 0.1 * g) for x, g in zip(expected, grads, strict=True)]
    for g, x in zip(got, expected, strict=True):
        assert torch.allclose(torch.zeros_like(x) if g is None else g, x, atol=1e-10)
    assert abs(float(adv.mean())) < 1e-8 and abs(float(adv.std(correction=0)) - 1) < 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_updates_run_on_cuda(registry) -> None:
    """The same code on CUDA: a bilevel update and an adversarial update, finite metrics."""
    s = make_setup(n=64, device="cuda")
    terms = _bilevel(registry, s, every=1, updates=2).update(_inputs(s, _batch(s)))
    assert terms["outer_loss"].device.type == "cuda" and torch.isfinite(terms["outer_loss"])
    adv = _alternating(registry, s, [{"type": "adversarial_value", "weight": 0.1}])
    terms = adv.update(_inputs(s, _batch(s)))
    assert torch.isfinite(terms["aux0/adv_grad_norm"]) and terms["nll"].device.type == "cuda"


def test_mle_weight_zero_is_eq6_alone(registry) -> None:
    """romi_no_weighting (Sec. 5.2, "solely apply Equation 6"): the model step's gradient is
    the gradient of L_RVL alone, no NLL and no regularization (before: NLL + L_RVL)."""
    s = make_setup(n=64)
    start = copy.deepcopy(s.dynamics.state_dict())
    aux = [{"type": "robust_value_aware", "xi": 0.3, "samples": 4}]
    cfg = _cfg(
        registry,
        "alternating_mle",
        "model_learner",
        pretrain_epochs=0,
        every=1,
        updates=1,
        batch_size=16,
        aux_losses=aux,
        mle_weight=0.0,
    )
    learner = cfg.build(s.ctx)
    rng = learner.generator.get_state()
    torch.manual_seed(7)
    terms = learner.update(_inputs(s, _batch(s)))
    got = [None if p.grad is None else p.grad.clone() for p in s.dynamics.parameters()]
    assert torch.isfinite(terms["nll"]) and "loss_robust_value_aware_0" in terms

    s.dynamics.load_state_dict(start)
    learner.generator.set_state(rng)
    batch = learner.sample_batch()
    torch.manual_seed(7)
    rvl = learner.aux_losses[0].loss(_inputs(s, batch))["loss_robust_value_aware"]
    params = list(s.dynamics.parameters())
    want = torch.autograd.grad(rvl, params, allow_unused=True)
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None or g.abs().sum() == 0
        else:
            torch.testing.assert_close(g, w)
    # The NLL alone (no aux loss) with mle_weight 0 leaves the model as it is.
    s.dynamics.load_state_dict(start)
    idle = _cfg(
        registry,
        "alternating_mle",
        "model_learner",
        pretrain_epochs=0,
        every=1,
        updates=2,
        batch_size=16,
        mle_weight=0.0,
    ).build(s.ctx)
    idle.update(_inputs(s, _batch(s)))
    assert all(
        torch.equal(a, b)
        for a, b in zip(start.values(), s.dynamics.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("noise", ["ball", "gaussian"])
def test_xi_space_normalized_scales_with_the_observation_std(registry, noise: str) -> None:
    """space: normalized draws U_xi in standardized units (RAMBO/ROMI code normalize obs):
    the raw noise is the std-scaled ball; space: raw is the ball itself."""
    s = make_setup(n=400)
    scale = torch.tensor([0.1, 1.0, 10.0])
    s.ctx.data = dataclasses.replace(s.data, obs=s.data.obs * scale)
    std = s.ctx.data.stats().obs_std
    spread = {}
    for space in ("raw", "normalized"):
        aux = _cfg(
            registry,
            "robust_value_aware",
            "aux_loss",
            xi=0.5,
            samples=1000,
            noise=noise,
            space=space,
        ).build(s.ctx)
        torch.manual_seed(0)
        _, state_noise = aux.draw_noise(s.dynamics, s.ctx.data.obs[:4])
        unit = state_noise / std if space == "normalized" else state_noise
        if noise == "ball":  # inside the xi-ball in the space's own units
            assert unit.norm(dim=-1).max() <= 0.5 + 1e-5
        spread[space] = state_noise.std(dim=(0, 1))
    # Same draws (same seed): normalized = raw * std, per dimension.
    torch.testing.assert_close(spread["normalized"], spread["raw"] * std, rtol=1e-4, atol=0)
    assert spread["normalized"][2] > 50 * spread["normalized"][0]
    assert spread["raw"].max() < 1.2 * spread["raw"].min()
    assert _cfg(registry, "robust_value_aware", "aux_loss").space == "normalized"
    s.ctx.data = None
    with pytest.raises(ValueError, match="space: raw"):
        _cfg(registry, "robust_value_aware", "aux_loss").build(s.ctx)


def test_rambo_pretraining_stops_on_the_holdout_loss(registry) -> None:
    """pretrain_stop: holdout (RAMBO) runs the mle learner's rule, not pretrain_epochs epochs:
    with patience 1 and an unreachable gain (99%) it stops after the second epoch."""
    s = make_setup(n=200)
    cfg = _cfg(
        registry,
        "alternating_mle",
        "model_learner",
        pretrain_stop="holdout",
        pretrain_epochs=50,
        patience=1,
        improvement=0.99,
        holdout=40,
        batch_size=32,
    )
    learner = cfg.build(s.ctx)
    epochs: list[int] = []
    metrics = learner.pretrain(s.dynamics, s.data, lambda m, step: epochs.append(step))
    assert epochs == [1, 2] and metrics["epochs"] == 2.0
    assert len(metrics["elites"]) == s.dynamics.elites.numel()
    # The policy phase still works after it (the learner's own Adam, its data tensors).
    terms = learner.update(_inputs(s, _batch(s), step=0))
    assert torch.isfinite(terms["nll"])
    fixed = _cfg(
        registry, "alternating_mle", "model_learner", pretrain_epochs=3, holdout=40, batch_size=32
    ).build(s.ctx)
    epochs.clear()
    fixed.pretrain(s.dynamics, s.data, lambda m, step: epochs.append(step))
    assert epochs == [0, 1, 2]  # ROMI App. D.2: fixed epochs, the default


def test_recipes_pretrain_stop() -> None:
    from pathlib import Path

    from compose.plugins import load_plugins
    from compose.recipe import load_recipe

    root = Path(__file__).resolve().parents[3] / "recipes"
    plugins = load_plugins()
    stops = {
        n: load_recipe(root / f"{n}.yaml", plugins=plugins).recipe.model_learner.pretrain_stop
        for n in ("rambo", "romi", "romi_no_weighting")
    }
    assert stops == {"rambo": "holdout", "romi": "epochs", "romi_no_weighting": "epochs"}
