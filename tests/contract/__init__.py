"""Contract suites: one set of tests that every adapter of a port must pass."""
