"""One composition root per process role: each builds its collaborators from the
settings, runs, and closes them on the way out."""
