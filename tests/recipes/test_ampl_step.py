"""AMPL in the engine's update step (AMPL Algorithm 1, Eq. 12): the target policy
pi_phi' and the order critic -> discriminator -> actor."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from compose.data.info import DatasetInfo
from compose.data.offline import OfflineData
from compose.kinds import Batch

ROOT = Path(__file__).resolve().parents[2]
SMALL = [
    "dynamics.hidden=[16,16]",
    "dynamics.weight_decay=[0,0,0]",
    "dynamics.members=3",
    "dynamics.elites=2",
    "policy.hidden=[16]",
    "critic.hidden=[16,16]",
    "actor.aux_losses.0.hidden=[16]",
    "model_learner.miw_hidden=[16]",
]


def _data(n: int = 64) -> OfflineData:
    g = torch.Generator().manual_seed(0)
    obs, act = torch.randn(n, 4, generator=g), torch.rand(n, 1, generator=g) * 6 - 3
    info = DatasetInfo(
        dataset_id="toy",
        source="test",
        env_id="InvertedPendulum-v5",
        obs_dim=4,
        act_dim=1,
        action_low=[-3.0],
        action_high=[3.0],
        provenance="test",
        n_transitions=n,
        n_episodes=1,
        return_mean=0.0,
        return_std=0.0,
        return_min=0.0,
        return_max=0.0,
    )
    return OfflineData(
        obs=obs,
        actions=act,
        rewards=torch.ones(n),
        next_obs=obs + 0.1,
        terminals=torch.zeros(n),
        timeouts=torch.zeros(n),
        episode_starts=torch.zeros(n, dtype=torch.bool),
        info=info,
    )


def _parts(*sets: str):  # noqa: ANN202
    from compose.plugins import load_plugins
    from compose.recipe import load_recipe
    from compose.train.build import build_parts

    recipe = load_recipe(
        ROOT / "recipes" / "ampl.yaml", [*SMALL, *sets], plugins=load_plugins()
    ).recipe
    torch.manual_seed(0)
    return recipe, build_parts(recipe, _data(), torch.device("cpu"))


def _batch(data: OfflineData, rows: slice) -> Batch:
    return Batch(
        obs=data.obs[rows],
        actions=data.actions[rows],
        rewards=data.rewards[rows],
        next_obs=data.next_obs[rows],
        terminals=data.terminals[rows],
    )


def test_update_order_and_target_policy() -> None:
    """Algorithm 1: critic (Eq. 12-13), then D_psi (Eq. 16), then pi_phi (Eq. 17); the
    critic target draws a' from pi_phi', Polyak-averaged after the actor step."""
    from compose.train.step import UpdateStep, update_inputs

    recipe, parts = _parts()
    assert parts.critic_target.uses_target_policy
    assert parts.agent.target_policy is parts.target_policy
    assert parts.target_policy is not parts.policy
    calls: list[str] = []

    def spy(obj, name: str, label: str) -> None:  # noqa: ANN001
        inner = getattr(obj, name)

        def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            calls.append(label)
            return inner(*args, **kwargs)

        setattr(obj, name, wrapped)

    spy(parts.critic_target, "loss", "critic")
    spy(parts.actor_aux[0], "update", "discriminator")
    spy(parts.actor_objective, "loss", "actor")
    # a' comes from the target policy: make it differ from the policy, and watch its calls.
    with torch.no_grad():
        for p in parts.target_policy.parameters():
            p.add_(0.5)
    spy(parts.target_policy, "forward", "target_policy")
    before = [p.detach().clone() for p in parts.target_policy.parameters()]

    step = UpdateStep(parts, tau=recipe.train.tau)
    inputs = update_inputs(
        parts, 1, _batch(parts.data, slice(0, 16)), _batch(parts.data, slice(16, 32))
    )
    step(inputs)
    assert calls == ["critic", "target_policy", "discriminator", "actor"]
    tau = recipe.train.tau
    for old, new, pi in zip(
        before, parts.target_policy.parameters(), parts.policy.parameters(), strict=True
    ):
        torch.testing.assert_close(new, (1 - tau) * old + tau * pi.detach())


def test_current_policy_option_builds_no_target_policy() -> None:
    _, parts = _parts("critic_target.next_action=policy")
    assert not parts.critic_target.uses_target_policy
    assert parts.target_policy is None and parts.agent.target_policy is None


def test_target_policy_round_trips_through_the_run_state() -> None:
    from compose.train.run_state import restore_run_state, run_state

    _, parts = _parts()
    with torch.no_grad():
        for p in parts.target_policy.parameters():
            p.add_(1.0)
    saved = {k: v.clone() for k, v in parts.target_policy.state_dict().items()}
    from compose.train.buffers import TransitionBuffer
    from compose.train.run_state import Progress

    buffer = TransitionBuffer(8, 4, 1, torch.device("cpu"))
    state = copy.deepcopy(run_state(parts, {}, Progress(), None))  # as written to disk
    with torch.no_grad():
        for p in parts.target_policy.parameters():
            p.zero_()
    restore_run_state(parts, buffer, state)
    for k, v in parts.target_policy.state_dict().items():
        torch.testing.assert_close(v, saved[k])
