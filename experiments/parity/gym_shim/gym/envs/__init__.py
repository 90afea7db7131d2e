"""``gym.envs`` stand-in."""
