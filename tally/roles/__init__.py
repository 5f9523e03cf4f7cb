"""The roles a process runs (`api`, `project`, `fulfil`, `replay`, `status`, `dlq`,
`migrate`, `up`): each asks the composition root (`tally/bootstrap.py`) for the parts it
needs; the `run_*` entry points open one root per process and close it on the way out."""
