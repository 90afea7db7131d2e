"""A stand-in for the old ``gym`` package, only the names OfflineRL-Kit's modules import.

OfflineRL-Kit (``offlinerlkit``) imports ``gym`` for type hints (``gym.Env``,
``gym.spaces.Space``) and ``gym.envs.mujoco.mujoco_env`` for its oracle dynamics, which the
parity driver never uses. Old gym (<= 0.24) does not install on this Python, so the driver
puts this folder first on ``sys.path`` when ``import gym`` fails. Nothing here runs an env:
evaluation uses Gymnasium behind :class:`run_offlinerlkit.OldGymApi`.
"""

from gym import envs, spaces


class Env:
    """Placeholder base class (type hints only)."""


__all__ = ["Env", "envs", "spaces"]
