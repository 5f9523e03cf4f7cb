"""Pure deciders: `decide(state, command) -> events` and `evolve(state, event) -> state`.
No I/O, no clocks, no randomness."""
