"""K seeds trained as one batch (``compose run --seeds``) follow their separate runs.

The pieces first, each against the straightforward per-seed implementation: the per-seed
random streams inside ``vmap`` (every draw equals the seed generator's own draw), the
stacked modules (views) and optimizers (one Adam over [K, ...] == K Adams), the stacked
buffers' sampling. Then the whole: on the tiny pendulum data, MOPO and MOBILE with
``--seeds 0 1`` against ``--set seed=0`` and ``--set seed=1`` run alone; every tensor of
each seed's final checkpoint (networks, target critics, optimizer moments, temperature,
model buffer, RNG states) must agree to float32 rounding after 200 (MOPO) and 100 (MOBILE)
gradient steps with rollouts and evaluations in between. Resume of a batch is exact; a
batch's seed directory resumes alone; recipes that cannot batch and bad ``--seeds`` are
refused with a message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch.func import vmap

from compose.cli import cli
from compose.plugins import load_plugins
from compose.recipe import load_recipe
from compose.recipe.profiles import applicable_overrides
from compose.train.buffers import SeedBuffers, TransitionBuffer
from compose.train.seeds.rng import PerSeedRandom, SeedRandomError, vmap_seeds
from compose.train.seeds.stack import SeedStack, SeedStackError
from tests.helpers.runs import DATASET, ROOT, SHRINK, flat_tensors

# -- per-seed random streams ---------------------------------------------------------------


def _batched_draws(gens: list[torch.Generator], fn) -> torch.Tensor:  # noqa: ANN001
    mode = PerSeedRandom(gens)

    def per_seed(x: torch.Tensor) -> torch.Tensor:
        with mode.batched():
            return fn(x)

    with mode:
        return vmap_seeds(per_seed, torch.zeros(len(gens), 4, 3))


@pytest.mark.parametrize(
    "draw",
    [
        lambda x: torch.randn(4, 3) + x,
        lambda x: torch.rand((4, 3)) + x,
        lambda x: torch.randint(0, 10, (4, 3)).float() + x,
        lambda x: torch.randint(7, (4, 3)).float() + x,
        lambda x: torch.randn_like(x),
        lambda x: torch.rand_like(x),
        lambda x: torch.randint_like(x, 5),
    ],
)
def test_each_seed_draws_what_its_own_generator_draws(draw) -> None:  # noqa: ANN001
    seeds = [3, 11, 12]
    got = _batched_draws([torch.Generator().manual_seed(s) for s in seeds], draw)
    for k, s in enumerate(seeds):
        torch.manual_seed(s)  # the global stream of a separate run seeded s
        assert torch.equal(got[k], draw(torch.zeros(4, 3)))


def test_the_wrappers_are_removed_on_exit() -> None:
    before = torch.randn
    with PerSeedRandom([torch.Generator()]):
        assert torch.randn is not before
    assert torch.randn is before


def test_draws_outside_the_batched_step_use_the_global_stream() -> None:
    mode = PerSeedRandom([torch.Generator().manual_seed(1)])
    torch.manual_seed(5)
    with mode:
        inside = torch.randn(3)
    torch.manual_seed(5)
    assert torch.equal(inside, torch.randn(3))


@pytest.mark.parametrize(
    "draw",
    [
        lambda x: torch.empty(4, 3).normal_() + x,
        lambda x: torch.normal(x, 1.0),
        lambda x: torch.distributions.Normal(x, 1.0).sample(),
        lambda x: torch.bernoulli(x + 0.5),
    ],
)
def test_a_random_op_that_cannot_be_split_is_refused(draw) -> None:  # noqa: ANN001
    with pytest.raises(SeedRandomError, match="cannot be split into per-seed streams"):
        _batched_draws([torch.Generator()] * 2, draw)


def test_a_foreign_generator_is_refused() -> None:
    stray = torch.Generator().manual_seed(0)
    with pytest.raises(SeedRandomError, match="not the run's stream"):
        _batched_draws([torch.Generator()] * 2, lambda x: torch.randn(4, 3, generator=stray) + x)


def test_a_component_generator_maps_to_each_seeds_own() -> None:
    owned = [torch.Generator().manual_seed(s) for s in (20, 21)]
    mode = PerSeedRandom([torch.Generator()] * 2, {id(owned[0]): owned})

    def per_seed(x: torch.Tensor) -> torch.Tensor:
        with mode.batched():
            return torch.randn(4, 3, generator=owned[0]) + x

    with mode:
        got = vmap_seeds(per_seed, torch.zeros(2, 4, 3))
    for k, s in enumerate((20, 21)):
        assert torch.equal(got[k], torch.randn(4, 3, generator=torch.Generator().manual_seed(s)))


# -- stacked modules and optimizers ----------------------------------------------------------


class Net(torch.nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.a = torch.nn.Linear(3, 4)
        self.b = torch.nn.Linear(4, 1)
        self.shared = self.a  # one module under two names
        self.register_buffer("scale", torch.tensor([1.0 + seed]))


def _loss(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return (net.b(torch.tanh(net.shared(x))) * net.scale).pow(2).mean()


def test_stacked_adam_is_k_independent_adams_and_exports_their_state() -> None:
    seeds, x = [0, 1, 2], torch.randn(3, 8, 3)
    alone = [Net(s) for s in seeds]
    alone_opts = [torch.optim.Adam(n.parameters(), lr=1e-2, fused=True) for n in alone]
    batch = [Net(s) for s in seeds]
    batch_opts = [torch.optim.Adam(n.parameters(), lr=1e-2, fused=True) for n in batch]
    stack = SeedStack(batch)
    (stacked,) = stack.optimizers([[o] for o in batch_opts])
    names = stack.names_of(list(batch[0].parameters()))
    for _ in range(5):
        for net, opt, xk in zip(alone, alone_opts, x, strict=True):
            opt.zero_grad()
            _loss(net, xk).backward()
            opt.step()

        def per_seed(
            params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], xk: torch.Tensor
        ) -> dict[str, torch.Tensor]:
            def loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
                with stack.swapped({**buffers, **p}):
                    return _loss(batch[0], xk)

            return torch.func.grad(loss)(params)

        grads = vmap(per_seed)({n: stack.params[n] for n in names}, stack.buffers, x)
        for n in names:
            stack.params[n].grad = grads[n]
        stacked.step()
    for k, net in enumerate(alone):
        for (name, p_alone), p_batch in zip(
            net.named_parameters(), batch[k].parameters(), strict=True
        ):
            torch.testing.assert_close(p_batch, p_alone, rtol=1e-6, atol=1e-7, msg=name)
    assert not torch._C._functorch.is_batchedtensor(batch[0].a.weight)  # nothing escaped
    assert batch[0].shared is batch[0].a
    stack.export_optimizer_states()
    for k in range(3):
        ours, theirs = batch_opts[k].state_dict()["state"], alone_opts[k].state_dict()["state"]
        for j in theirs:
            torch.testing.assert_close(ours[j]["exp_avg_sq"], theirs[j]["exp_avg_sq"])
            assert float(ours[j]["step"]) == float(theirs[j]["step"]) == 5.0


def test_each_copy_holds_views_of_the_stack() -> None:
    nets = [Net(0), Net(1)]
    stack = SeedStack(nets)
    stack.params["a.weight"][1].add_(1.0)
    assert torch.equal(nets[1].a.weight, stack.params["a.weight"][1])
    assert nets[1].a.weight.requires_grad


def test_copies_of_different_shape_are_refused() -> None:
    odd = Net(1)
    odd.b = torch.nn.Linear(4, 2)
    with pytest.raises(SeedStackError, match="b.weight"):
        SeedStack([Net(0), odd])


def test_non_elementwise_optimizer_is_refused() -> None:
    nets = [Net(0), Net(1)]
    opts = [[torch.optim.LBFGS(n.parameters())] for n in nets]
    with pytest.raises(SeedStackError, match="not elementwise"):
        SeedStack(nets).optimizers(opts)


def test_seed_buffers_sample_what_each_buffer_samples() -> None:
    bufs = []
    for k in range(3):
        b = TransitionBuffer(50, 2, 1, "cpu")
        n = 20 + 10 * k  # different fill levels
        b.add(
            torch.randn(n, 2),
            torch.randn(n, 1),
            torch.randn(n),
            torch.randn(n, 2),
            torch.rand(n) < 0.2,
        )
        bufs.append(b)
    expected = [
        b.gather(b.indices(7, torch.Generator().manual_seed(k))) for k, b in enumerate(bufs)
    ]
    got = SeedBuffers(bufs).sample(7, [torch.Generator().manual_seed(k) for k in range(3)])
    for k in range(3):
        for field in ("obs", "actions", "rewards", "next_obs", "terminals"):
            assert torch.equal(getattr(got, field)[k], getattr(expected[k], field))


# -- whole runs ------------------------------------------------------------------------------


def _args(name: str, tmp_path: Path, *extra: str) -> list[str]:
    dataset = f"dataset={{source: minari, id: {DATASET}}}"
    base = load_recipe(name, [dataset], plugins=load_plugins())
    sets = [
        dataset,
        *applicable_overrides(SHRINK, base.recipe),
        f"runtime.model_cache={tmp_path / 'models'}",
        *extra,
    ]
    return [a for s in sets for a in ("--set", s)] + ["--no-track"]


def _run(*args: str) -> str:
    res = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output[-3000:]
    return res.output


def _assert_same_checkpoints(a_path: Path, b_path: Path, atol: float) -> None:
    a = flat_tensors(torch.load(a_path, weights_only=True))
    b = flat_tensors(torch.load(b_path, weights_only=True))
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
    far = []
    for key in a:
        x, y = a[key], b[key]
        if x.is_floating_point():
            if not torch.allclose(x.double(), y.double(), rtol=1e-4, atol=atol):
                far.append((key, float((x.double() - y.double()).abs().max())))
        elif not torch.equal(x, y):
            far.append((key, "differs"))
    assert not far, far[:10]


@pytest.fixture()
def in_store(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", env["MINARI_DATASETS_PATH"])
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize(
    ("name", "steps"),
    [
        ("mopo", 200),
        ("mobile", 100),
        ("vipo_mopo", 50),
        ("vipo_mobile", 50),
        ("mbpo", 50),
        ("combo", 50),
        ("morel", 50),
    ],
)
def test_each_seed_of_a_batch_follows_its_separate_run(
    name: str, steps: int, in_store: None, tmp_path: Path
) -> None:
    from compose.recipe import search_paths
    from compose.recipe.composition import find_recipe

    if not isinstance(find_recipe(name, None, search_paths(load_plugins())), Path):
        pytest.skip(f"recipe {name} is not in the search path (plugin not installed)")
    sched = (f"train.steps={steps}", "eval.every=50", "rollout.every=25", "train.log_every=25")
    args = _args(name, tmp_path, *sched)
    _run(name, *args, "--seeds", "0", "1", "--run-dir", str(tmp_path / "batch"))
    for seed in (0, 1):
        _run(name, *args, "--set", f"seed={seed}", "--run-dir", str(tmp_path / f"alone{seed}"))
    index = json.loads((tmp_path / "batch" / "seeds.json").read_text())
    assert index["seeds"] == [0, 1] and index["status"] == ["finished", "finished"]
    for seed in (0, 1):
        batched, alone = tmp_path / "batch" / f"seed_{seed}", tmp_path / f"alone{seed}"
        _assert_same_checkpoints(batched / "checkpoint.pt", alone / "checkpoint.pt", atol=1e-5)
        sb = json.loads((batched / "summary.json").read_text())
        sa = json.loads((alone / "summary.json").read_text())
        assert [e["eval/return"] for e in sb["evals"]] == [e["eval/return"] for e in sa["evals"]]
        assert len(sb["evals"]) == steps // 50 + 1  # the BC policy's, periodic, final
        recipe_seed = load_recipe(str(batched / "recipe.yaml"), [], plugins=load_plugins())
        assert recipe_seed.recipe.seed == seed


def test_a_batch_resumes_exactly_and_its_seeds_resume_alone(in_store: None, tmp_path: Path) -> None:
    args = _args("mopo", tmp_path, "train.steps=40", "checkpoint.every=20", "rollout.every=10")
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _run("mopo", *args, "--seeds", "2", "--run-dir", str(whole))
    _run("mopo", *args, "--seeds", "2", "--steps", "20", "--run-dir", str(parts))
    _run("--resume", str(parts), "--steps", "40", "--no-track")
    # a batch of one seed other than the recipe's resumes as that seed (not as a count)
    single = tmp_path / "single"
    _run("mopo", *args, "--seeds", "4", "7", "--steps", "20", "--run-dir", str(single))
    (single / "seed_7").rename(tmp_path / "moved")  # leave seed 4 alone in the index
    index = json.loads((single / "seeds.json").read_text())
    (single / "seeds.json").write_text(json.dumps({**index, "seeds": [4]}))
    _run("--resume", str(single), "--steps", "40", "--no-track")
    assert torch.load(single / "seed_4" / "checkpoint.pt", weights_only=True)["step"] == 40
    assert not (single / "seed_0").exists()
    for seed in (0, 1):
        _assert_same_checkpoints(
            whole / f"seed_{seed}" / "checkpoint.pt",
            parts / f"seed_{seed}" / "checkpoint.pt",
            atol=0.0,
        )
    # a seed of a batch is an ordinary run: it resumes alone and follows its separate run
    _run("mopo", *args, "--steps", "20", "--set", "seed=1", "--run-dir", str(tmp_path / "one"))
    _run("--resume", str(tmp_path / "one"), "--steps", "40", "--no-track")
    _assert_same_checkpoints(
        whole / "seed_1" / "checkpoint.pt", tmp_path / "one" / "checkpoint.pt", atol=1e-5
    )


def test_a_recipe_that_trains_its_model_during_the_policy_phase_is_refused(
    in_store: None, tmp_path: Path
) -> None:
    args = _args("rambo", tmp_path)
    res = CliRunner().invoke(
        cli, ["run", "rambo", *args, "--seeds", "2", "--run-dir", str(tmp_path / "r")]
    )
    assert res.exit_code == 2, res.output
    assert "cannot train seeds as one batch" in res.output
    assert "model_learner" in res.output and "compose sweep run rambo --seeds 0 1" in res.output


def test_the_recipes_seeds_key_batches_without_the_flag(in_store: None, tmp_path: Path) -> None:
    args = _args("mbpo", tmp_path, "seeds=[3, 5]")
    _run("mbpo", *args, "--run-dir", str(tmp_path / "b"))
    assert json.loads((tmp_path / "b" / "seeds.json").read_text())["seeds"] == [3, 5]
    own = load_recipe(str(tmp_path / "b" / "seed_5" / "recipe.yaml"), [], plugins=load_plugins())
    assert own.recipe.seed == 5 and own.recipe.seeds is None


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        (["--seeds", "0"], "count of seeds"),
        (["--seeds", "1", "1"], "each seed once"),
        (["--set", "seeds=[1, 1]"], "distinct seeds"),
        (["--set", "seeds=[]"], "distinct seeds"),
    ],
)
def test_bad_seeds_are_refused(seeds: list[str], message: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["run", "mopo", *seeds, "--run-dir", str(tmp_path / "x")])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not (tmp_path / "x").exists()  # nothing was created


def test_each_seed_logs_its_own_aim_run_with_its_separate_runs_series(
    in_store: None, tmp_path: Path
) -> None:
    from tests.helpers.runs import metric_values, read_run

    repo = tmp_path / "aim"
    args = [a for a in _args("mopo", tmp_path, f"track.repo={repo}") if a != "--no-track"]
    _run("mopo", *args, "--seeds", "2", "--run-dir", str(tmp_path / "batch"))
    _run("mopo", *args, "--set", "seed=1", "--run-dir", str(tmp_path / "alone1"))
    hashes = [
        json.loads((tmp_path / "batch" / f"seed_{s}" / "summary.json").read_text())["aim_run_hash"]
        for s in (0, 1)
    ]
    assert len(set(hashes)) == 2
    alone = json.loads((tmp_path / "alone1" / "summary.json").read_text())["aim_run_hash"]
    batched_run, alone_run = read_run(repo, hashes[1]), read_run(repo, alone)
    assert batched_run["recipe"]["seed"] == 1
    for name in ("critic_target/loss_critic", "actor_objective/alpha", "eval/return"):
        got, want = metric_values(batched_run, name), metric_values(alone_run, name)
        assert [s for s, _ in got] == [s for s, _ in want]
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-4, abs=1e-5)


def test_ctrl_c_saves_every_seed_and_the_batch_resumes(env: dict[str, str], tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import threading
    import time

    run_dir = tmp_path / "batch"
    args = _args("mbpo", tmp_path, "eval.every=100000", "checkpoint.every=100000")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "compose.cli",
            "run",
            "mbpo",
            *args,
            "--steps",
            "100000",
            "--seeds",
            "2",
            "--run-dir",
            str(run_dir),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    deadline = time.time() + 120
    while time.time() < deadline and not any("x2 seeds" in line for line in lines):
        time.sleep(0.2)
    time.sleep(1.0)  # well into the batched policy phase
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    reader.join(timeout=10)
    proc.stderr.close()  # type: ignore[union-attr]
    assert f"resume with: compose run --resume {run_dir}" in "".join(lines)
    steps = {
        torch.load(run_dir / f"seed_{s}" / "checkpoint.pt", weights_only=True)["step"]
        for s in (0, 1)
    }
    assert len(steps) == 1 and 0 < steps.pop() < 100000
    index = json.loads((run_dir / "seeds.json").read_text())
    assert index["status"] == ["interrupted", "interrupted"]
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "compose.cli",
            "run",
            "--resume",
            str(run_dir),
            "--steps",
            "10",
            "--no-track",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # fewer steps than done: nothing to train, each seed evaluates and keeps its step
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads((run_dir / "seeds.json").read_text())["status"] == ["finished", "finished"]


def test_every_seed_reports_the_batchs_rate(in_store: None, tmp_path: Path) -> None:
    _run("mbpo", *_args("mbpo", tmp_path), "--seeds", "3", "--run-dir", str(tmp_path / "b"))
    rates = [
        json.loads((tmp_path / "b" / f"seed_{s}" / "summary.json").read_text())["steps_per_s"]
        for s in (0, 1, 2)
    ]
    assert max(rates) / min(rates) < 1.05  # one clock for the batch, not per seed's set-up


def test_an_interrupted_batch_resumes_to_the_same_aim_series(
    in_store: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after step 15 (between checkpoints, rollouts and log steps) and ``--resume``:
    each seed's Aim run holds the same series as the uninterrupted batch's (the rollout
    metrics of step 10's round and the steps 11-15 not yet logged come from the checkpoint)."""
    from tests.helpers.runs import WALL_CLOCK, aim_series
    from tests.train.stop_plugin import STOP_ENV

    monkeypatch.setenv("COMPOSE_EXTRA_PLUGINS", "tests.train.stop_plugin")
    repo = tmp_path / "aim"
    sched = (
        "train.steps=30",
        "train.log_every=10",
        "rollout.every=10",
        "checkpoint.every=20",
        "eval.every=20",
        "critic.aux_losses=[{type: stop_at}]",
        f"track.repo={repo}",
        "runtime.model_cache=null",
    )  # both batches fit (and log) the model phase
    args = [a for a in _args("mopo", tmp_path, *sched) if a != "--no-track"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _run("mopo", *args, "--seeds", "2", "--run-dir", str(whole))
    monkeypatch.setenv(STOP_ENV, "15:once")
    res = CliRunner().invoke(cli, ["run", "mopo", *args, "--seeds", "2", "--run-dir", str(parts)])
    assert res.exit_code == 130, res.output[-3000:]
    monkeypatch.delenv(STOP_ENV)
    _run("--resume", str(parts))
    for seed in (0, 1):
        a, b = (
            json.loads((d / f"seed_{seed}" / "summary.json").read_text())["aim_run_hash"]
            for d in (whole, parts)
        )
        sa, sb = aim_series(repo, a), aim_series(repo, b)
        assert any(name.startswith("rollout/") for name, _ in sa)
        assert sa.keys() == sb.keys(), sorted(set(sa) ^ set(sb))
        for key in sa:
            assert [s for s, _ in sa[key]] == [s for s, _ in sb[key]], key
            if key[0] not in WALL_CLOCK:
                assert sa[key] == sb[key], key
