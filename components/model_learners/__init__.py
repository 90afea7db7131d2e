"""Built-in model learners components (config modules are torch-free; implementations are in _<name>.py)."""
