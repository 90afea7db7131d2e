"""Built-in uncertainty components (config modules are torch-free; implementations are in _<name>.py)."""
