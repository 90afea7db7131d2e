"""Built-in dynamics components (config modules are torch-free; implementations are in _<name>.py)."""
