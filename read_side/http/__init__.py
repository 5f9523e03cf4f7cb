"""The query HTTP routes of SPEC §3, their parameters and their problem+json answers."""
