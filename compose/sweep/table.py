"""``compose sweep table``: one row per run (or per group of seeds) from what runs left on disk.

Rows come from ``DIR/sweep.json`` (the expanded plan, written when the sweep starts) and each
run's ``summary.json`` / ``sweep_run.json``; a directory with a ``summary.json`` but not in
``sweep.json`` is listed too. Times: ``wall_s`` is the whole run; ``s_per_1k`` is seconds per
1000 policy-phase steps (1000 / steps_per_s from the summary); ``model_s`` is the model phase
(0 when the fitted model came from the cache). ``best`` is the run's best evaluation.
Grouped over seeds, scores are the interquartile mean with its stratified bootstrap 95%
interval from :mod:`compose.stats` (the statistics ``compose compare`` uses), not mean +- std.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from compose import stats
from compose.sweep.local import RUN_RECORD, read_summary
from compose.train.run_dir import RunDir

__all__ = ["SWEEP_FILE", "collect_rows", "group_rows", "to_markdown"]

SWEEP_FILE = "sweep.json"


def load_plan(out: Path) -> dict[str, Any]:
    """``DIR/sweep.json`` (or an empty plan)."""
    try:
        return json.loads((Path(out) / SWEEP_FILE).read_text())
    except (OSError, ValueError):
        return {"runs": []}


def _status(run_dir: Path, summary: dict[str, Any] | None) -> str:
    if summary is not None:
        return str(summary.get("status", "?"))
    record_file = run_dir / RUN_RECORD
    if not record_file.is_file():  # a seed of a batch: the batch's record is one level up
        record_file = run_dir.parent / RUN_RECORD
    try:
        record = json.loads(record_file.read_text())
    except (OSError, ValueError):
        return "pending"
    code = record.get("exit_code")
    return "pending" if code is None else f"crashed (exit {code})"


def _retried(run_dir: Path) -> list[str]:
    """Why the run was retried (Ray engine: a lost worker or node, a killed process), if it was."""
    for record_file in (run_dir / RUN_RECORD, run_dir.parent / RUN_RECORD):
        try:
            record = json.loads(record_file.read_text())
        except (OSError, ValueError):
            continue
        return [
            f"{r.get('reason')}; resumed from step {r.get('from_step')}"
            for r in record.get("retries") or []
        ]
    return []


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def collect_rows(out: Path) -> list[dict[str, Any]]:
    """One dict per run: name, label, recipe, grid, seed, status, score, times, aim hash."""
    out = Path(out)
    plans = load_plan(out).get("runs", [])
    known = {p["name"] for p in plans}
    for child in sorted(out.iterdir()) if out.is_dir() else []:
        if child.name not in known and RunDir(child).summary.is_file():
            s = read_summary(child) or {}
            plans.append(
                {
                    "name": child.name,
                    "label": s.get("name", child.name),
                    "recipe": s.get("name"),
                    "seed": None,
                    "grid": {},
                    "dataset": s.get("dataset_id"),
                    "run_dir": str(child),
                }
            )
    rows = []
    for p in plans:
        run_dir = Path(p["run_dir"])
        s = read_summary(run_dir)
        sps = _num(s.get("steps_per_s")) if s else None
        rows.append(
            {
                "name": p["name"],
                "label": p["label"],
                "recipe": p["recipe"],
                "dataset": (s or {}).get("dataset_id") or p.get("dataset"),
                "grid": p.get("grid") or {},
                "seed": p.get("seed"),
                "status": _status(run_dir, s),
                "steps": (s or {}).get("steps"),
                "score": _num((s or {}).get("final_normalized_score")),
                "best": _best(s or {}),
                "return": _num((s or {}).get("final_return")),
                "wall_s": _num((s or {}).get("wall_time_s")),
                "s_per_1k": 1000.0 / sps if sps else None,
                "model_s": _num((s or {}).get("model_phase_s")),
                "model_cached": bool(((s or {}).get("model_metrics") or {}).get("cached")),
                "holdout_mse": _num(((s or {}).get("model_metrics") or {}).get("holdout_mse")),
                "aim_run_hash": (s or {}).get("aim_run_hash"),
                "run_dir": str(run_dir),
                "retried": _retried(run_dir),
            }
        )
    return rows


def _best(summary: dict[str, Any]) -> float | None:
    """The run's best normalized score (older summaries: the best of its evaluations)."""
    if "best_normalized_score" in summary:
        return _num(summary["best_normalized_score"])
    vals = [_num(e.get("eval/normalized_score")) for e in summary.get("evals") or []]
    finite = [v for v in vals if v is not None]
    return max(finite) if finite else None


def _iqm(values: list[float | None]) -> stats.Estimate | None:
    """IQM and 95% interval of the finite values (None when there are none)."""
    vals = [v for v in values if v is not None]
    return stats.iqm_estimate(vals) if vals else None


def _mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def group_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Runs that differ only by seed share a key."""
    return (
        row["label"],
        row["dataset"],
        tuple(sorted((k, json.dumps(v)) for k, v in row["grid"].items())),
    )


def group_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows grouped over seeds: IQM [95% CI] of final and best score, mean times, statuses."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(group_key(row), []).append(row)
    out = []
    for members in groups.values():
        first = members[0]
        statuses: dict[str, int] = {}
        for m in members:
            statuses[m["status"]] = statuses.get(m["status"], 0) + 1
        finished = [m for m in members if m["status"] == "finished"]
        score = _iqm([m["score"] for m in finished])
        best = _iqm([m.get("best") for m in finished])
        ret = _iqm([m["return"] for m in finished])
        out.append(
            {
                "label": first["label"],
                "recipe": first["recipe"],
                "dataset": first["dataset"],
                "grid": first["grid"],
                "seeds": sorted(m["seed"] for m in members if m["seed"] is not None),
                "n": len(members),
                "n_finished": len(finished),
                "status": ", ".join(f"{k} x{v}" for k, v in statuses.items()),
                "score": None if score is None else score.to_json(),
                "best": None if best is None else best.to_json(),
                "return": None if ret is None else ret.to_json(),
                "wall_s": _mean_std([m["wall_s"] for m in members])[0],
                "s_per_1k": _mean_std([m["s_per_1k"] for m in members])[0],
                "model_s": _mean_std([m["model_s"] for m in members if not m["model_cached"]])[0],
                "model_cached": all(m["model_cached"] for m in members),
                "holdout_mse": _mean_std([m["holdout_mse"] for m in members])[0],
                "retried": [r for m in members for r in m.get("retried", [])],
            }
        )
    return out


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _estimate_text(est: dict[str, Any]) -> str:
    return stats.Estimate(est["value"], est["low"], est["high"]).text()


def _model_cell(row: dict[str, Any]) -> str:
    """Model-phase seconds, or ``cached`` when the model came from the model cache."""
    return "cached" if row.get("model_cached") else _fmt(row["model_s"])


def grid_text(grid: dict[str, Any]) -> str:
    """``path=value`` pairs, short."""
    return (
        " ".join(
            f"{k}={json.dumps(v) if isinstance(v, (list, dict)) else v}" for k, v in grid.items()
        )
        or "-"
    )


def table_cells(rows: list[dict[str, Any]], grouped: bool) -> tuple[list[str], list[list[str]]]:
    """Header and string cells of the table (shared by the terminal and markdown forms)."""
    if grouped:
        header = [
            "run",
            "grid",
            "seeds",
            "status",
            "final: IQM [95% CI]",
            "best: IQM [95% CI]",
            "wall s",
            "s / 1k steps",
            "model s",
            "holdout mse",
        ]
        cells = [
            [
                r["label"],
                grid_text(r["grid"]),
                " ".join(map(str, r["seeds"])) or "-",
                r["status"],
                "-"
                if r["score"] is None
                else f"{_estimate_text(r['score'])} (n={r['n_finished']})",
                "-" if r["best"] is None else _estimate_text(r["best"]),
                _fmt(r["wall_s"]),
                _fmt(r["s_per_1k"], 2),
                _model_cell(r),
                _fmt(r["holdout_mse"], 4),
            ]
            for r in rows
        ]
    else:
        header = [
            "run",
            "recipe",
            "grid",
            "seed",
            "status",
            "score",
            "best",
            "wall s",
            "s / 1k steps",
            "model s",
            "holdout mse",
        ]
        cells = [
            [
                r["label"],
                str(r["recipe"]),
                grid_text(r["grid"]),
                _fmt(r["seed"]),
                r["status"],
                _fmt(r["score"]),
                _fmt(r.get("best")),
                _fmt(r["wall_s"]),
                _fmt(r["s_per_1k"], 2),
                _model_cell(r),
                _fmt(r["holdout_mse"], 4),
            ]
            for r in rows
        ]
    if any(r.get("retried") for r in rows):  # Ray engine: which runs were retried, and why
        header.append("retried")
        for row, r in zip(cells, rows, strict=True):
            row.append(" | ".join(r.get("retried") or []) or "-")
    return header, cells


def to_markdown(rows: list[dict[str, Any]], grouped: bool) -> str:
    """A GitHub markdown table."""
    header, cells = table_cells(rows, grouped)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    return "\n".join(lines) + "\n"
