"""The outer shell: CLI, per-process composition roots, embedded servers, logging.
Nothing imports this package."""
