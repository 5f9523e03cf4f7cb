"""The chaos run: a seeded random workload of every command against a real deployment on
loopback (3-node NATS cluster, PostgreSQL, two of each role), faults injected at random,
and every answer the clients got checked against a model of the streams and views.

`python -m chaos --seed S --minutes M` runs it; `python -m chaos.soak` is the long,
fault-free run that watches memory and latency drift. Not installed with the product.
"""
