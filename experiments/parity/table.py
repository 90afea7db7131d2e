"""Table and learning curves of a parity batch: compose vs OfflineRL-Kit (issue #15 part 2).

Reads OUT/compose/<run>/summary.json (``compose run``) and OUT/offlinerlkit/<run>/result.json
(``run_offlinerlkit.py``), run = <algo>__<env>-<quality>__s<seed> (``compare.py``), and writes

* a markdown table, one row per system x recipe x task: seeds, final and best normalized
  score (mean over seeds with a 95% bootstrap interval over seeds), and wall-clock seconds
  (total, model phase, policy phase with its evaluations; means over seeds), then one line
  per recipe x task saying whether the two systems' final-score intervals are disjoint (a
  difference larger than the seeds' spread: a finding to explain, issue #15);
* a JSON file with the same numbers and every seed's curve;
* a plot (matplotlib; ``pip install -e ".[plots]"``): per recipe x task, both systems'
  normalized score against policy steps, mean over seeds with the 95% bootstrap band.

Wall-clock columns: compose's policy phase is ``steps / steps_per_s`` (the loop's own
measure: rollouts and the intermediate evaluations included, the final one not); the
driver's is its loop's time with every evaluation (its ``policy_s + eval_s``).

    python experiments/parity/table.py runs/parity/tiny [--md F] [--json F] [--png F]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

SYSTEMS = ("compose", "offlinerlkit")


def bootstrap_ci(
    values: list[float], level: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over ``values`` (seeds); one value: (v, v)."""
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return values[0], values[0]
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choice(values) for _ in range(n)) / n for _ in range(resamples))
    lo = means[int((1 - level) / 2 * (resamples - 1))]
    hi = means[int((1 + level) / 2 * (resamples - 1))]
    return lo, hi


def parse_name(name: str) -> tuple[str, str, int] | None:
    """(algo, task, seed) from ``mopo__halfcheetah-medium__s0``; None for other folders."""
    parts = name.split("__")
    if len(parts) != 3 or not parts[2].startswith("s") or not parts[2][1:].isdigit():
        return None
    return parts[0], parts[1], int(parts[2][1:])


def read_compose(path: Path) -> dict[str, Any] | None:
    """Curve and timings of one compose run (None unless it finished)."""
    summary = json.loads(path.read_text())
    if summary.get("status") != "finished":
        return None
    curve = [
        (int(e["step"]), float(e["eval/normalized_score"]))
        for e in summary["evals"]
        if "eval/normalized_score" in e
    ]
    steps, rate = summary.get("steps") or 0, summary.get("steps_per_s") or 0.0
    return {
        "curve": curve,
        "total_s": float(summary["wall_time_s"]),
        "model_s": float(summary.get("model_phase_s") or 0.0),
        "policy_s": steps / rate if rate else float("nan"),
        "model_updates": (summary.get("model_metrics") or {}).get("updates"),
    }


def read_reference(path: Path) -> dict[str, Any]:
    """Curve and timings of one driver run."""
    result = json.loads(path.read_text())
    wall = result["wall"]
    return {
        "curve": [(int(e["step"]), float(e["normalized_score"])) for e in result["evals"]],
        "total_s": float(wall["total_s"]),
        "model_s": float(wall["model_s"]),
        "policy_s": float(wall["policy_s"]) + float(wall["eval_s"]),
        "model_updates": (result.get("model") or {}).get("updates"),
    }


def collect(out: Path) -> dict[tuple[str, str, str], dict[int, dict[str, Any]]]:
    """{(system, algo, task): {seed: run}} for every finished run under ``out``."""
    runs: dict[tuple[str, str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    for system, marker, reader in (
        ("compose", "summary.json", read_compose),
        ("offlinerlkit", "result.json", read_reference),
    ):
        for path in sorted((out / system).glob(f"*/{marker}")):
            key = parse_name(path.parent.name)
            if key is None:
                continue
            run = reader(path)
            if run is not None and run["curve"]:
                runs[(system, key[0], key[1])][key[2]] = run
    return runs


def summarize(runs: dict[tuple[str, str, str], dict[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per (system, algo, task): score statistics and mean timings."""
    rows = []
    for (system, algo, task), seeds in sorted(
        runs.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])
    ):
        finals = [run["curve"][-1][1] for run in seeds.values()]
        bests = [max(s for _, s in run["curve"]) for run in seeds.values()]
        rows.append(
            {
                "system": system,
                "algo": algo,
                "task": task,
                "seeds": sorted(seeds),
                "final_steps": sorted({run["curve"][-1][0] for run in seeds.values()}),
                "final_mean": statistics.fmean(finals),
                "final_ci": bootstrap_ci(finals),
                "final_std": statistics.pstdev(finals),
                "best_mean": statistics.fmean(bests),
                "best_ci": bootstrap_ci(bests),
                "total_s": statistics.fmean(r["total_s"] for r in seeds.values()),
                "model_s": statistics.fmean(r["model_s"] for r in seeds.values()),
                "policy_s": statistics.fmean(r["policy_s"] for r in seeds.values()),
                "model_updates": sorted({r["model_updates"] for r in seeds.values()}, key=str),
                "curves": {seed: run["curve"] for seed, run in sorted(seeds.items())},
            }
        )
    return rows


def _ci(mean: float, ci: tuple[float, float]) -> str:
    return f"{mean:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table, then one verdict line per (algo, task) with both systems."""
    lines = [
        "| recipe | task | system | seeds | steps | model updates | final score [95% CI] "
        "| best score [95% CI] | wall total (s) | model phase (s) | policy phase (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        updates = ",".join(
            str(int(u)) if isinstance(u, (int, float)) else "?" for u in r["model_updates"]
        )
        lines.append(
            f"| {r['algo']} | {r['task']} | {r['system']} | {len(r['seeds'])} "
            f"| {','.join(map(str, r['final_steps']))} | {updates} | {_ci(r['final_mean'], r['final_ci'])} "
            f"| {_ci(r['best_mean'], r['best_ci'])} | {r['total_s']:.0f} | {r['model_s']:.0f} | {r['policy_s']:.0f} |"
        )
    by_pair: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        by_pair[(r["algo"], r["task"])][r["system"]] = r
    verdicts = []
    for (algo, task), systems in sorted(by_pair.items()):
        if set(systems) != set(SYSTEMS):
            continue
        a, b = systems["compose"], systems["offlinerlkit"]
        gap = a["final_mean"] - b["final_mean"]
        disjoint = a["final_ci"][1] < b["final_ci"][0] or b["final_ci"][1] < a["final_ci"][0]
        verdict = (
            "intervals disjoint: a finding, find its cause"
            if disjoint
            else "within the seeds' spread"
        )
        if min(len(a["seeds"]), len(b["seeds"])) < 2:
            verdict = "one seed: no spread to compare with"
        verdicts.append(f"- {algo} {task}: final compose - OfflineRL-Kit = {gap:+.1f} ({verdict})")
    if verdicts:
        lines += ["", *verdicts]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> bool:
    """Both systems' curves per (algo, task); False (and a hint) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('table: no matplotlib; pip install -e ".[plots]" for the plot', file=sys.stderr)
        return False
    pairs = sorted({(r["algo"], r["task"]) for r in rows})
    fig, axes = plt.subplots(1, len(pairs), figsize=(5 * len(pairs), 3.6), squeeze=False)
    for ax, (algo, task) in zip(axes[0], pairs, strict=True):
        for r in rows:
            if (r["algo"], r["task"]) != (algo, task):
                continue
            steps = sorted({s for curve in r["curves"].values() for s, _ in curve})
            mean, lo, hi, xs = [], [], [], []
            for step in steps:
                vals = [dict(curve)[step] for curve in r["curves"].values() if step in dict(curve)]
                if not vals:
                    continue
                xs.append(step)
                mean.append(statistics.fmean(vals))
                low, high = bootstrap_ci(vals, resamples=2000)
                lo.append(low)
                hi.append(high)
            (line,) = ax.plot(xs, mean, label=f"{r['system']} ({len(r['seeds'])} seeds)")
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2)
        ax.set_title(f"{algo} {task}")
        ax.set_xlabel("policy steps")
        ax.set_ylabel("normalized score")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    """CLI: OUT [--md F] [--json F] [--png F] (defaults OUT/table.md, table.json, curves.png)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--md", type=Path)
    p.add_argument("--json", type=Path)
    p.add_argument("--png", type=Path)
    args = p.parse_args(argv)
    rows = summarize(collect(args.out))
    if not rows:
        print(
            f"table: no finished runs under {args.out}/compose or {args.out}/offlinerlkit",
            file=sys.stderr,
        )
        return 2
    text = markdown(rows)
    print(text, end="")
    (args.md or args.out / "table.md").write_text(text)
    (args.json or args.out / "table.json").write_text(json.dumps(rows, indent=2))
    plot(rows, args.png or args.out / "curves.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
