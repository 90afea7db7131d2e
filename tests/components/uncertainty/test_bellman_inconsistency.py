"""bellman_inconsistency (MOBILE, VIPO Eq. 20) == a per-member, per-sample loop reference."""

from __future__ import annotations

import torch

from components.uncertainty.bellman_inconsistency import BellmanInconsistencyConfig
from compose.kinds import Agent, Dynamics
from tests.helpers.agent import critics_by_hand, make_agent, make_ctx, make_dynamics


def loop_reference(
    obs: torch.Tensor,
    act: torch.Tensor,
    dynamics: Dynamics,
    agent: Agent,
    samples: int,
    members: list[int],
    seed: int,
) -> torch.Tensor:
    """Eq. 20 written out: for member i, sample j: s' ~ P^i, a' ~ pi, min_k Qbar_k; mean_j; std_i.

    The random numbers are drawn the way the component draws them (all next-state noise,
    then all action noise), then consumed one (member, sample) at a time.
    """
    do, da, b, e = obs.shape[1], act.shape[1], obs.shape[0], len(members)
    torch.manual_seed(seed)
    state_noise = torch.randn(e, samples, b, do)
    action_noise = torch.randn(e, samples, b, da)
    pred = dynamics.predict(obs, act)
    policy = agent.policy
    backups = []
    for n, i in enumerate(members):
        total = torch.zeros(b)
        for j in range(samples):
            s_next = obs + pred.mean[i, :, :do] + pred.std[i, :, :do] * state_noise[n, j]
            mu, log_std = policy.dist_params(s_next)
            a_next = policy.squash(mu + log_std.exp() * action_noise[n, j])
            qs = critics_by_hand(agent.target_critic, s_next, a_next)
            total = total + torch.minimum(qs[0], qs[1])
        backups.append(agent.gamma * total / samples)
    x = torch.stack(backups)
    return ((x - x.mean(0)).pow(2).sum(0) / (e - 1)).sqrt()


def _setup(members: int = 4, elites: int = 2):
    torch.manual_seed(0)
    ctx = make_ctx(obs_dim=3, act_dim=2)
    dynamics = make_dynamics(ctx, members=members, elites=elites)
    agent = make_agent(ctx, gamma=0.9)
    obs, act = torch.randn(6, 3), torch.rand(6, 2) * 2 - 1
    return ctx, dynamics, agent, obs, act


def test_matches_per_member_per_sample_loop() -> None:
    ctx, dynamics, agent, obs, act = _setup()
    unc = BellmanInconsistencyConfig(samples=5, members="all").build(ctx)
    torch.manual_seed(7)
    u = unc(obs, act, dynamics=dynamics, agent=agent)
    ref = loop_reference(obs, act, dynamics, agent, 5, [0, 1, 2, 3], seed=7)
    assert u.shape == (6,) and not u.requires_grad
    torch.testing.assert_close(u, ref, rtol=1e-5, atol=1e-6)
    assert bool((u > 0).all())


def test_default_uses_only_the_elites() -> None:
    """MOBILE's code (OfflineRL-Kit sample_next_obss) samples next states from the elites."""
    ctx, dynamics, agent, obs, act = _setup(members=5, elites=3)
    dynamics.set_elites(torch.tensor([4, 1, 2]))
    unc = BellmanInconsistencyConfig(samples=3).build(ctx)
    torch.manual_seed(3)
    u = unc(obs, act, dynamics=dynamics, agent=agent)
    ref = loop_reference(obs, act, dynamics, agent, 3, dynamics.elites.tolist(), seed=3)
    assert dynamics.elites.tolist() == [1, 2, 4]
    torch.testing.assert_close(u, ref, rtol=1e-5, atol=1e-6)


def test_given_prediction_is_used_and_gamma_scales() -> None:
    ctx, dynamics, agent, obs, act = _setup()
    unc = BellmanInconsistencyConfig(samples=4).build(ctx)
    pred = dynamics.predict(obs, act)
    torch.manual_seed(5)
    u1 = unc(obs, act, dynamics=dynamics, agent=agent, prediction=pred)
    torch.manual_seed(5)
    u2 = unc(obs, act, dynamics=dynamics, agent=agent)
    torch.testing.assert_close(u1, u2)
    agent.gamma = 0.45
    torch.manual_seed(5)
    torch.testing.assert_close(unc(obs, act, dynamics=dynamics, agent=agent), 0.5 * u2)


def test_near_zero_when_members_agree() -> None:
    ctx, dynamics, agent, obs, act = _setup()
    unc = BellmanInconsistencyConfig(samples=4).build(ctx)
    torch.manual_seed(1)
    u_disagree = unc(obs, act, dynamics=dynamics, agent=agent)
    pred = dynamics.predict(obs, act)
    same = pred.mean[:1].expand_as(pred.mean)
    pred = type(pred)(
        mean=same,
        std=torch.zeros_like(pred.std),
        normalized_mean=pred.normalized_mean,
        logvar=pred.logvar,
    )
    with torch.no_grad():  # an almost deterministic policy: log_std at its lower clamp
        agent.policy.trunk.body.linear_layers()[-1].bias[0, 0, 2:] = -100.0
    u_agree = unc(obs, act, dynamics=dynamics, agent=agent, prediction=pred)
    assert float(u_agree.max()) < 0.05 * float(u_disagree.mean())
