"""Built-in actor objectives components (config modules are torch-free; implementations are in _<name>.py)."""
