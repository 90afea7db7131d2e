"""``gym.envs.mujoco.mujoco_env`` stand-in: ``MujocoEnv`` for a type hint only."""


class MujocoEnv:
    """Placeholder (type hints only; the oracle dynamics are not used by the parity driver)."""
