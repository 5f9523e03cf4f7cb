"""The admin HTTP API under `/admin` (the `admin` scope when tokens are on): what the
operator's commands do, over HTTP, calling the same code (`tally.operator`)."""
