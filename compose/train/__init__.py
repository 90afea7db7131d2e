"""Training: build a recipe's parts, fit the model, run the policy phase, keep the run directory.

``launch`` starts a run (one seed or a batch) from a loaded recipe; ``build`` turns it into
parts; ``model_phase`` fits or loads the model; ``schedule`` is the one policy-phase schedule
(rollouts, logging, evaluation, checkpoints, stop), driving an update strategy: one seed
(``loop``) or K seeds vmapped (``seeds``); ``step`` is one gradient step; ``run_dir`` owns the
run directory's layout, lock and checkpoints.
"""

from __future__ import annotations
