"""Seed batching: K seeds of one recipe trained in one process, one vmapped step for all.

:mod:`~compose.train.seeds.batch` runs the batch (each seed a complete run of its own, the
policy phase on the shared schedule of :mod:`compose.train.schedule`);
:mod:`~compose.train.seeds.step` is the vmapped update, :mod:`~compose.train.seeds.stack` the
seeds' modules stacked along a seed dimension, :mod:`~compose.train.seeds.rng` each seed's own
random stream. Nothing is imported here, so the small modules load without the trainer.
"""
