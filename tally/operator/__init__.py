"""What an operator asks of a running Tally: its status, the progress of each view, the
dead letters and what to do with them. Called by the CLI and by the admin HTTP API alike,
so the two always agree."""
