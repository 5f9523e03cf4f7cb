"""Projections: fold the event streams into the read models in PostgreSQL, exactly once.

One module per projection (orders, stock), the runner (pull batch -> one transaction that
skips seen sequences, applies the batch and saves the checkpoint -> commit -> ack), the
dead letters and the replay into shadow tables. Imports events/ and read_side's tables.
"""
