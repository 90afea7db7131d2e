"""Built-in aux losses components (config modules are torch-free; implementations are in _<name>.py)."""
