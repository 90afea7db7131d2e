"""Built-in critic targets components (config modules are torch-free; implementations are in _<name>.py)."""
