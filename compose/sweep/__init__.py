"""Sweeps: recipes x datasets x seeds x a grid of ``--set`` values, run and tabulated.

- :mod:`compose.sweep.spec`: the spec (YAML or CLI), its expansion into runs, validation;
- :mod:`compose.sweep.local`: the local engine (``compose run`` subprocesses, resumable);
- :mod:`compose.sweep.ray_engine`: the Ray engine (the same runs as Ray tasks on a cluster);
- :mod:`compose.sweep.table`: one row per run / per seed group from the run directories;
- :mod:`compose.sweep.plot`: metric series read back from Aim, one PNG.

Nothing here imports torch (the runs are subprocesses).
"""

from __future__ import annotations

from compose.sweep.spec import (
    RunPlan,
    SpecError,
    SweepEntry,
    SweepSpec,
    expand,
    load_spec,
    validate,
)

__all__ = ["RunPlan", "SpecError", "SweepEntry", "SweepSpec", "expand", "load_spec", "validate"]
