"""Built-in components of compose, registered through the `compose` entry point."""
