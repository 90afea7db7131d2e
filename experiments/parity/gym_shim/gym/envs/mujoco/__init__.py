"""``gym.envs.mujoco`` stand-in: ``mujoco_env`` for OfflineRL-Kit's oracle dynamics import."""

from gym.envs.mujoco import mujoco_env

__all__ = ["mujoco_env"]
